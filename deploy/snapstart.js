'use strict';

// SnapStart snapshots the initialised function when a version is published, so the
// model must be loaded during init (MODEL_PRELOAD=1) to be in the snapshot; and AWS
// refuses SnapStart together with provisioned concurrency. Both are refused here, at
// package time, in one line.
class SnapStartCheck {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:createDeploymentArtifacts': () => this.check() };
  }

  check() {
    const { service } = this.serverless;
    for (const name of service.getAllFunctions()) {
      const fn = service.getFunction(name);
      if (!fn.snapStart) continue;
      const env = { ...(service.provider.environment || {}), ...(fn.environment || {}) };
      if (!['1', 'true', 'yes', 'on'].includes(String(env.MODEL_PRELOAD).toLowerCase())) {
        throw new this.serverless.classes.Error(
          `SnapStart on function "${name}" needs MODEL_PRELOAD=1 (the model must be in the snapshot): package with --param=snapStart=true --param=modelPreload=1`
        );
      }
      if (fn.provisionedConcurrency) {
        throw new this.serverless.classes.Error(
          `SnapStart on function "${name}" cannot be combined with provisioned concurrency: remove one`
        );
      }
    }
  }
}

module.exports = SnapStartCheck;
