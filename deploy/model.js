'use strict';

// The model the function serves (`make package MODEL=package.module:Class`, or
// serverless.yml's default): its module's package, its artifact and its own
// requirements go into the zip, with no edit of serverless.yml. Asked of
// deploy/model_package.py in the folder the package is built in (the user's
// checkout, where MODEL imports as it does for `predcache`), before anything is
// installed: the requirements file and the folder it is installed into are that
// model's, so a model with dependencies of its own gets a zip that carries them.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { cacheTag, venvPython } = require('./runtime');

const LOCK_WAIT_MS = 15 * 60 * 1000;

// Two packages on one machine (two checkouts, or make test-deploy's own models beside
// its variants) that share a requirements folder must not install into it at once:
// the folder is held from before the requirements plugin installs until deploy/assemble.js
// has zipped it (both before:package:createDeploymentArtifacts); from then on it is only
// read. A lock left by a process that died is taken over.
function holdFolder(folder) {
  const lock = `${folder}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const started = Date.now();
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      return lock;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    let holder = NaN;
    try {
      holder = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
    } catch (error) {
      // being written (or its writer died before it could): judged by its age below
    }
    const orphan = !holder && Date.now() - fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs > 60000;
    if ((holder && !alive(holder)) || orphan) fs.rmSync(lock, { recursive: true, force: true });
    if (Date.now() - started > LOCK_WAIT_MS) throw new Error(`${lock} is held by process ${holder}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

class ModelPackage {
  constructor(serverless) {
    this.serverless = serverless;
    // after the other plugins' checks, before the requirements plugin installs anything
    this.hooks = {
      'before:package:createDeploymentArtifacts': () => this.describe(),
      'after:package:createDeploymentArtifacts': () => this.release(), // before the trace
    };
    process.on('exit', () => this.release());
  }

  release() {
    if (this.lock) fs.rmSync(this.lock, { recursive: true, force: true });
    this.lock = null;
  }

  describe() {
    const { service, serviceDir } = this.serverless;
    const model = service.provider.environment.MODEL;
    let described;
    try {
      described = JSON.parse(
        execFileSync(venvPython(serviceDir), [path.join(__dirname, 'model_package.py'), model, service.provider.runtime], {
          cwd: serviceDir,
          stdio: ['ignore', 'pipe', 'pipe'],
        }).toString()
      );
    } catch (error) {
      const said = (error.stderr || '').toString().trim().split('\n').pop();
      throw new this.serverless.classes.Error(`MODEL=${model}: ${said || error.message}`);
    }
    const code = described.code.join(',');
    // the function's own bytecode, for this runtime only (not a dev venv's): after the
    // leading "!**", before the exclusions that follow (later patterns win)
    service.package.patterns.splice(1, 0, `{${code}}/**/__pycache__/*.${cacheTag(service.provider.runtime)}.pyc`);
    service.package.patterns.push(...described.patterns);
    const requirements = service.custom.pythonRequirements;
    requirements.fileName = described.requirementsFile;
    requirements.cacheLocation = described.requirementsCache;
    this.lock = holdFolder(described.requirementsCache);
    this.serverless.predcacheCode = described.code; // what deploy/assemble.js compiles
    this.serverless.cli.log(`Model: ${model} (${described.patterns.join(', ')})`);
  }
}

module.exports = ModelPackage;
