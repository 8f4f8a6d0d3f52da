'use strict';

// A new Lambda environment starts from the zip, and Python cannot keep bytecode in the
// function's code directory (only /tmp is scratch space): a zip without .pyc files
// makes every new container compile each module it imports. On the
// unzipped package under python3.12 with writes off (`predcache bench-cold --package`,
// docs/benchmarks.md) that is most of a cold start. So this plugin compiles the
// function's Python with the runtime's own interpreter, after serverless-python-
// requirements has installed and slimmed the requirements (it runs after that plugin)
// and before the zip is written. The .py files stay: tracebacks keep their source
// lines, and libraries that read their own source (anyio's lazy imports) still work.
// That plugin leaves out a top-level __pycache__/ when it adds the requirements to the
// zip, so the bytecode of single-file modules (typing_extensions, threadpoolctl, ...)
// is added afterwards, with the fixed date Serverless gives every entry.
//
//   requirements (a folder keyed on their exact contents, deploy/requirements_cache.py):
//     unchecked-hash .pyc, no source read
//   the function's own code (a working tree): checked-hash .pyc, never served stale
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { findInterpreter } = require('./runtime');

const OWN_CODE = ['cache', 'model', 'service'];
const ADD_TOP_LEVEL = `
import pathlib, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "a", zipfile.ZIP_DEFLATED) as archive:
    for pyc in sorted(pathlib.Path(sys.argv[2]).glob("*.pyc")):
        entry = zipfile.ZipInfo(f"__pycache__/{pyc.name}", (1980, 1, 1, 0, 0, 0))
        entry.external_attr = 0o644 << 16
        archive.writestr(entry, pyc.read_bytes(), zipfile.ZIP_DEFLATED)
`;

class Bytecode {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:createDeploymentArtifacts': () => this.compile(),
      'after:package:createDeploymentArtifacts': () => this.addTopLevel(),
    };
  }

  python() {
    const binary = this.serverless.service.provider.runtime; // e.g. python3.12
    const python = findInterpreter(binary);
    if (!python) {
      throw new this.serverless.classes.Error(
        `packaging compiles the function's Python with ${binary} (the Lambda runtime's): install it, e.g. \`pyenv install ${binary.replace(/^python/, '')}\``
      );
    }
    return python;
  }

  compile() {
    const python = this.python();
    const root = this.serverless.serviceDir;
    const requirements = path.join(root, '.serverless', 'requirements');
    const compile = (mode, dirs) =>
      execFileSync(python, ['-m', 'compileall', '-q', '-j', '0', '--invalidation-mode', mode, ...dirs], {
        cwd: root,
        stdio: 'inherit',
      });
    if (fs.existsSync(requirements)) compile('unchecked-hash', [requirements]);
    compile('checked-hash', OWN_CODE);
    this.serverless.cli.log(`Bytecode: compiled with ${python}`);
  }

  addTopLevel() {
    const topLevel = path.join(this.serverless.serviceDir, '.serverless', 'requirements', '__pycache__');
    const artifact = this.serverless.service.package.artifact;
    if (!artifact || !fs.existsSync(topLevel)) return;
    execFileSync(this.python(), ['-c', ADD_TOP_LEVEL, artifact, topLevel], {
      cwd: this.serverless.serviceDir,
      stdio: 'inherit',
    });
  }
}

module.exports = Bytecode;
