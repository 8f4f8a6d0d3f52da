'use strict';

// Assembles the Lambda zip: the function's code and the requirements, with bytecode.
//
// Bytecode: a new Lambda environment starts from the zip, and Python cannot keep
// bytecode in the function's code directory (only /tmp is scratch space): a zip without
// .pyc files makes every new container compile each module it imports. On the unzipped
// package under python3.12 with writes off (`predcache bench-cold --package`,
// docs/benchmarks.md) that is most of a cold start. So the function's Python is compiled
// with the runtime's own interpreter. The .py files stay: tracebacks keep their source
// lines, and libraries that read their own source (anyio's lazy imports) still work.
//   requirements (a folder keyed on their exact contents, deploy/requirements_cache.py):
//     unchecked-hash .pyc, no source read
//   the function's own code (a working tree): checked-hash .pyc, never served stale
//
// Requirements: serverless-python-requirements installs and slims them into its cached
// folder (it runs before this plugin) and would then re-zip all ~175 MB into every
// package with JSZip (most of a package's time: docs/deploy.md). Instead deploy/lambda_zip.py zips the
// folder once, beside it; deploy/shape_package.py leaves out of that zip the package
// folders the function never opens while it answers its model's example (traced once
// per model and code), and each package is the shaped zip plus the function's own
// entries. The plugin's folder link is moved aside before it injects, so it injects
// nothing, and removed once the zip is whole.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
// osls's own lister and matcher (what package-service.js requires), so a pattern means
// here what it means to osls
const PACKAGE_SERVICE = require.resolve('osls/lib/plugins/package/lib/package-service.js');
const glob = require('osls/lib/utils/glob');
const micromatch = require(require.resolve('micromatch', { paths: [PACKAGE_SERVICE] }));
const { findInterpreter, venvPython } = require('./runtime');

const LAMBDA_ZIP = path.join(__dirname, 'lambda_zip.py');
const SHAPE = path.join(__dirname, 'shape_package.py');

class Assemble {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:createDeploymentArtifacts': () => this.prepare(),
      'after:package:createDeploymentArtifacts': () => this.merge(),
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

  // A helper's stdout; what it says on stderr is passed on, and its last line is the
  // package's one-line error when it fails.
  run(args, python = this.python()) {
    const done = spawnSync(python, args, { cwd: this.serverless.serviceDir, maxBuffer: 1 << 26 });
    const said = (done.stderr || '').toString().trim();
    if (done.status !== 0) {
      throw new this.serverless.classes.Error(said.split('\n').pop() || `${python} ${args[0]} failed`);
    }
    if (said) this.serverless.cli.log(said);
    return done.stdout.toString().trim();
  }

  // osls lists every file under the service folder before it applies package.patterns
  // (`**`: ~90,000 files here, the venv and node_modules among them; ~0.8 s of CPU in
  // every package). serverless.yml's patterns begin with "!**", so a file is kept only
  // when a later pattern names it: those patterns alone are listed, then applied in
  // order as osls applies them (the last pattern matching a file decides).
  listNamedFilesOnly() {
    const packager = this.serverless.pluginManager.plugins.find((p) => p.resolveFilePathsFromPatterns);
    const listEverything = packager.resolveFilePathsFromPatterns.bind(packager);
    packager.resolveFilePathsFromPatterns = async (params, prefix) => {
      const [first, ...patterns] = params.include;
      if (prefix || first !== '!**' || (params.devDependencyExcludeSet || new Set()).size) {
        return listEverything(params, prefix);
      }
      const named = patterns.filter((p) => !p.startsWith('!'));
      const listed = await glob(named, {
        cwd: this.serverless.serviceDir,
        dot: true,
        silent: true,
        follow: true,
        nodir: true,
        expandDirectories: false,
      });
      const kept = new Set();
      for (const pattern of patterns) {
        const exclude = pattern.startsWith('!');
        for (const file of micromatch(listed, [exclude ? pattern.slice(1) : pattern], { dot: true })) {
          if (exclude) kept.delete(file);
          else kept.add(file);
        }
      }
      return kept.size ? [...kept].sort() : listEverything(params, prefix); // its error, if none
    };
  }

  prepare() {
    this.listNamedFilesOnly();
    const root = this.serverless.serviceDir;
    const link = path.join(root, '.serverless', 'requirements');
    const code = this.serverless.predcacheCode; // deploy/model.js: predcache's and the model's
    this.run(['-m', 'compileall', '-q', '-j', '0', '--invalidation-mode', 'checked-hash', ...code]);
    this.requirementsZip = null;
    this.aside = `${link}.zipped`;
    fs.rmSync(this.aside, { recursive: true, force: true });
    if (fs.existsSync(link)) {
      this.folder = fs.realpathSync(link);
      this.requirementsZip = this.run([LAMBDA_ZIP, 'requirements', this.folder]);
      fs.renameSync(link, this.aside);
    }
    this.serverless.cli.log(`Bytecode: compiled with ${this.python()}`);
  }

  merge() {
    const artifact = this.serverless.service.package.artifact;
    if (!artifact || !this.requirementsZip) return;
    const model = this.serverless.service.provider.environment.MODEL;
    const venv = venvPython(this.serverless.serviceDir);
    const runtime = this.serverless.service.provider.runtime;
    try {
      const shaped = this.run([SHAPE, this.folder, this.requirementsZip, artifact, model, runtime], venv);
      this.run([LAMBDA_ZIP, 'merge', shaped, artifact]);
    } catch (error) {
      fs.rmSync(artifact, { force: true }); // nothing half-built is left to deploy
      fs.rmSync(this.aside, { recursive: true, force: true });
      throw error;
    }
    fs.rmSync(this.aside, { recursive: true, force: true }); // not copied by `--package DIR`
  }
}

module.exports = Assemble;
