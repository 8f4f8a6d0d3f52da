'use strict';

// The function's Python runtime, a choice of two (`make package RUNTIME=python3.13`):
// python3.12, the default, or python3.13 (what Lambda Managed Instances need; SnapStart
// takes both). Checked before anything is installed: an unsupported runtime, or one
// whose interpreter is not on this machine (packaging compiles the zip's bytecode with
// it), stops `make package` with one line. The requirements are fetched as wheels for
// the same Python version (`--python-version`, added to the requirements plugin's pip
// arguments here, so the version is written once: provider.runtime), and the zip takes
// the function's bytecode for that version.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const SUPPORTED = ['python3.12', 'python3.13'];

function pyenvCandidates(binary) {
  const versions = path.join(os.homedir(), '.pyenv', 'versions');
  const wanted = binary.replace(/^python/, '');
  if (!fs.existsSync(versions)) return [];
  return fs
    .readdirSync(versions)
    .filter((v) => v === wanted || v.startsWith(`${wanted}.`))
    .sort()
    .reverse()
    .map((v) => path.join(versions, v, 'bin', binary));
}

const found = new Map(); // binary -> interpreter: asked once per package, not per use

// The interpreter of `binary` (python3.12): PATH's, then pyenv's, newest first. Asking
// a pyenv shim runs its shell scripts (~0.1 s of CPU, and it answers for pyenv's global
// versions only), so a shim on PATH is passed over for pyenv's versions themselves; a
// package asks several times (docs/deploy.md).
function findInterpreter(binary) {
  if (!found.has(binary)) found.set(binary, probe(binary));
  return found.get(binary);
}

function onPath(binary) {
  const shims = path.join('.pyenv', 'shims');
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const candidate = path.join(dir, binary);
    if (dir && !dir.endsWith(shims) && fs.existsSync(candidate)) return [candidate];
  }
  return [];
}

function probe(binary) {
  for (const candidate of [...onPath(binary), ...pyenvCandidates(binary)]) {
    try {
      const version = execFileSync(candidate, ['--version'], { stdio: 'pipe' }).toString();
      if (version.startsWith(`Python ${binary.replace(/^python/, '')}`)) return candidate;
    } catch (error) {
      // not installed, or a pyenv shim for another version: try the next one
    }
  }
  return null;
}

class Runtime {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:initialize': () => this.check() };
  }

  check() {
    const { Error } = this.serverless.classes;
    const runtime = this.serverless.service.provider.runtime;
    if (!SUPPORTED.includes(runtime)) {
      throw new Error(`runtime ${runtime} is not supported: use one of ${SUPPORTED.join(', ')} (make package RUNTIME=...)`);
    }
    if (!findInterpreter(runtime)) {
      const version = runtime.replace(/^python/, '');
      throw new Error(`packaging for ${runtime} needs its interpreter on this machine: install it, e.g. \`pyenv install ${version}\``);
    }
    const version = runtime.replace(/^python/, '');
    const pip = this.serverless.service.custom.pythonRequirements.pipCmdExtraArgs;
    pip.push(`--python-version ${version}`);
  }
}

// The predcache venv's Python (what `make` set up), for the plugins' questions about
// the model and the packaged zip: PREDCACHE_PYTHON, else the checkout's .venv.
function venvPython(serviceDir) {
  const venv = path.join(serviceDir, '.venv', 'bin', 'python');
  return process.env.PREDCACHE_PYTHON || (fs.existsSync(venv) ? venv : 'python3');
}

// The bytecode tag of a runtime: cpython-312 for python3.12.
function cacheTag(runtime) {
  return `cpython-${runtime.replace(/^python/, '').replace('.', '')}`;
}

module.exports = Runtime;
module.exports.findInterpreter = findInterpreter;
module.exports.venvPython = venvPython;
module.exports.cacheTag = cacheTag;
