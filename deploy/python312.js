'use strict';

// Serverless Framework v3's config schema predates the python3.12 runtime. With
// `configValidationMode: error` an unknown runtime fails, so this plugin adds
// python3.12 to the schema's runtime list (and nothing else).
class Python312Runtime {
  constructor(serverless) {
    const runtimes = serverless.configSchemaHandler.schema.definitions.awsLambdaRuntime.enum;
    if (!runtimes.includes('python3.12')) runtimes.push('python3.12');
  }
}

module.exports = Python312Runtime;
