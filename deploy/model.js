'use strict';

// The model the function serves (`make package MODEL=package.module:Class`, or
// serverless.yml's default): its module's package, its artifact and its own
// requirements go into the zip, with no edit of serverless.yml. Asked of
// deploy/model_package.py in the folder the package is built in (the user's
// checkout, where MODEL imports as it does for `predcache`), before anything is
// installed: the requirements file and the folder it is installed into are that
// model's, so a model with dependencies of its own gets a zip that carries them.
const { execFileSync } = require('child_process');
const path = require('path');
const { cacheTag, venvPython } = require('./runtime');

class ModelPackage {
  constructor(serverless) {
    this.serverless = serverless;
    // after the other plugins' checks, before the requirements plugin installs anything
    this.hooks = { 'before:package:createDeploymentArtifacts': () => this.describe() };
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
    this.serverless.predcacheCode = described.code; // what deploy/assemble.js compiles
    this.serverless.cli.log(`Model: ${model} (${described.patterns.join(', ')})`);
  }
}

module.exports = ModelPackage;
