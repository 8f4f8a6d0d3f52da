'use strict';

// The front door (`make package FRONT=rest|http|url`) and, on rest, API Gateway's own
// cache in front of Lambda (L0, `API_CACHE=1`). docs/deploy.md says what each door
// gives up; AWS's pages for every fact are cited there.
//
//   rest  REST API (the default): API keys and a usage plan (429 past its throttle),
//         gateway responses in the app's error shape, optionally L0 on GET /predict.
//   http  HTTP API: a lower request fee (docs/deploy.md's table), no API keys or usage
//         plans (the app's key check is the auth: keys from the SSM SecureString
//         API_KEYS_PARAMETER names), the plan's throttle set as the stage's route throttle.
//   url   Lambda function URL: no request fee, auth by the app's keys or AWS_IAM,
//         reserved concurrency the only throttle.
//
// L0 keys GET /predict on the request schema's fields (asked of the model contract:
// service/schemas.py, never listed here) and the caller's API key (so no client can
// plant an answer another one is served), in a namespace named after the zip's hash:
// a new model or code version is never answered from the old one's entries. Caching is
// on for that method only, encrypted, TTL at most 3,600 s; a `Cache-Control: max-age=0`
// needs IAM authorization to invalidate (set after deploy: CloudFormation cannot).
const { execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { venvPython } = require('./runtime');

const DOORS = ['rest', 'http', 'url'];
const TTL_MAX = 3600; // API Gateway's maximum cache TTL
const CACHE_SIZES = ['0.5', '1.6', '6.1', '13.5', '28.4', '58.2', '118', '237']; // GB
const URL_AUTHS = ['none', 'aws_iam'];
const L0_METHOD = 'ApiGatewayMethodPredictGet';
const L0_PATH = '/~1predict'; // a MethodSetting's resource path: "/" written "~1"
// gateway responses: what API Gateway answers itself, in the app's error shape
// ({"message": ...}); a status a client can retry comes with Retry-After.
const GATEWAY_RESPONSES = {
  THROTTLED: { status: '429', retryAfter: '1' },
  QUOTA_EXCEEDED: { status: '429', retryAfter: '3600' },
  // a Lambda throttle (its 429) reaches REST as a bare 500: retryable, so 503
  DEFAULT_5XX: { status: '503', retryAfter: '1' },
  INTEGRATION_FAILURE: { status: '503', retryAfter: '1' },
  INTEGRATION_TIMEOUT: { status: '504', retryAfter: '1' },
  // L0's required query parameters, checked before the cache and the function
  BAD_REQUEST_PARAMETERS: { status: '422', message: '"$context.error.validationErrorString"' },
  DEFAULT_4XX: {},
};

// The front options serverless.yml resolved (custom.front), checked before anything
// compiles: each refusal is one line, thrown by `fail`. Returns them with L0's TTL as a
// number and whether the app checks keys itself (no API keys or IAM in front of it).
function chooseFront(raw, fail) {
  const o = { ...raw, apiCache: ['1', 'true'].includes(String(raw.apiCache).toLowerCase()) };
  if (!DOORS.includes(o.door)) fail(`front=${o.door} is not a door: use one of ${DOORS.join(', ')}`);
  if (o.apiCache && o.door !== 'rest') {
    fail(`API_CACHE=1 is API Gateway's REST cache: front=${o.door} has none (use FRONT=rest)`);
  }
  const ttl = Number(o.apiCacheTtlSeconds);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > TTL_MAX) {
    fail(`API_CACHE_TTL=${o.apiCacheTtlSeconds}: a whole number of seconds, 1 to ${TTL_MAX} (AWS's maximum)`);
  }
  if (!CACHE_SIZES.includes(String(o.apiCacheSize))) {
    fail(`API_CACHE_SIZE=${o.apiCacheSize} GB: API Gateway offers ${CACHE_SIZES.join(', ')}`);
  }
  if (!URL_AUTHS.includes(o.urlAuth)) fail(`URL_AUTH=${o.urlAuth}: use ${URL_AUTHS.join(' or ')}`);
  const keyed = o.door === 'rest' || (o.door === 'url' && o.urlAuth === 'aws_iam');
  return { ...o, ttl, appKeys: !keyed };
}

// The function's variables for the app's own keys: the name of the SSM SecureString
// holding them (a package), or the keys themselves (a local stack only); one line,
// thrown by `fail`, when the package would carry the keys or names none.
function appKeyVariables(o, local, fail) {
  const keys = String(o.appApiKeys || '').trim();
  const name = String(o.appApiKeysParameter || '').trim();
  if (local && keys) return { API_KEYS: keys };
  if (keys) {
    fail('APP_API_KEYS would put the keys in the packaged template: store them in an SSM SecureString and name it with APP_API_KEYS_PARAMETER (docs/deploy.md)');
  }
  if (!name) {
    fail(`front=${o.door} has no API keys or usage plans: name the SSM SecureString holding the app's keys (APP_API_KEYS_PARAMETER=/name)`);
  }
  return { API_KEYS_PARAMETER: name };
}

// Both checks, as a package (or, `local`, a serverless-offline stack) makes them: the
// options, and the function's variables for the app's own keys when it checks them.
function checkFront(raw, local, fail) {
  const o = chooseFront(raw, fail);
  return { o, keyVariables: o.appKeys ? appKeyVariables(o, local, fail) : {} };
}

class Front {
  constructor(serverless, cliOptions) {
    this.serverless = serverless;
    this.cliOptions = cliOptions || {};
    this.hooks = {
      'before:package:initialize': () => this.choose(),
      'before:offline:start:init': () => this.choose(true),
      'before:package:finalize': () => this.compile(),
      'after:deploy:deploy': () => this.protectInvalidation(),
    };
  }

  fail(message) {
    throw new this.serverless.classes.Error(message);
  }

  options() {
    return chooseFront(this.serverless.service.custom.front, (message) => this.fail(message));
  }

  // The app's keys in a package's SSM SecureString: read on that one parameter.
  grantKeys(name) {
    this.serverless.service.provider.iam.role.statements.push({
      Effect: 'Allow',
      Action: ['ssm:GetParameter'], // exactly what service/keys.py calls
      Resource: { 'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/${name.replace(/^\//, '')}` },
    });
    this.serverless.cli.log(`App keys: the SSM SecureString ${name} (make it before deploying: docs/deploy.md)`);
  }

  // Before anything compiles: the events, keys and URL of the chosen door.
  choose(local = false) {
    const { o, keyVariables } = checkFront(this.serverless.service.custom.front, local, (m) => this.fail(m));
    const { service } = this.serverless;
    const fn = service.getFunction('api');
    if (o.apiCache) {
      // the function answers an entry only while it outlives L0's TTL (service/settings.py)
      service.provider.environment = { ...service.provider.environment, L0_TTL_SECONDS: String(o.ttl) };
      this.fields = this.requestFields(); // before anything is installed
    }
    if (o.door === 'rest') return;
    if (keyVariables.API_KEYS_PARAMETER) this.grantKeys(keyVariables.API_KEYS_PARAMETER);
    service.provider.environment = { ...service.provider.environment, ...keyVariables };
    if (service.provider.apiGateway) {
      this.throttle = service.provider.apiGateway.usagePlan.throttle;
      delete service.provider.apiGateway.apiKeys;
      delete service.provider.apiGateway.usagePlan;
    }
    if (o.door === 'http') {
      fn.events = fn.events.map(({ http }) => ({
        httpApi: { method: http.method.toUpperCase(), path: `/${http.path}` },
      }));
    } else {
      fn.events = [];
      fn.url = o.urlAuth === 'aws_iam' ? { authorizer: 'aws_iam' } : true;
    }
  }

  compile() {
    const o = this.options();
    const cf = this.serverless.service.provider.compiledCloudFormationTemplate;
    if (o.door === 'http' && this.throttle) {
      cf.Resources.HttpApiStage.Properties.DefaultRouteSettings = {
        ThrottlingBurstLimit: this.throttle.burstLimit,
        ThrottlingRateLimit: this.throttle.rateLimit,
      };
    }
    if (o.door !== 'rest') return;
    for (const [type, response] of Object.entries(GATEWAY_RESPONSES)) {
      const name = type.toLowerCase().replace(/(^|_)(\w)/g, (m, sep, c) => c.toUpperCase());
      cf.Resources[`GatewayResponse${name}`] = gatewayResponse(type, response);
    }
    if (o.apiCache) this.addCache(cf, o);
  }

  addCache(cf, o) {
    const method = cf.Resources[L0_METHOD].Properties;
    const params = {};
    for (const { name, required } of this.fields) params[`method.request.querystring.${name}`] = required;
    params['method.request.header.x-api-key'] = true;
    method.RequestParameters = params;
    method.RequestValidatorId = { Ref: 'ApiGatewayQueryValidator' };
    method.Integration.CacheKeyParameters = Object.keys(params);
    method.Integration.CacheNamespace = `predict-${this.codeVersion()}`;
    cf.Resources.ApiGatewayQueryValidator = {
      Type: 'AWS::ApiGateway::RequestValidator',
      Properties: { RestApiId: { Ref: 'ApiGatewayRestApi' }, ValidateRequestParameters: true, ValidateRequestBody: false },
    };
    const [deployment] = Object.values(cf.Resources).filter((r) => r.Type === 'AWS::ApiGateway::Deployment');
    deployment.Properties.StageDescription = {
      CacheClusterEnabled: true,
      CacheClusterSize: String(o.apiCacheSize),
      MethodSettings: [
        { ResourcePath: '/*', HttpMethod: '*', CachingEnabled: false }, // GET /health stays live
        { ResourcePath: L0_PATH, HttpMethod: 'GET', CachingEnabled: true, CacheTtlInSeconds: o.ttl, CacheDataEncrypted: true },
      ],
    };
  }

  // The GET route's query parameters: the model's request schema, as the app reads it.
  // A model whose request a query string cannot carry has no GET: L0 is refused for it;
  // so is a function environment the app would refuse (an L0 TTL past CACHE_TTL_SECONDS).
  requestFields() {
    const { environment } = this.serverless.service.provider;
    const model = environment.MODEL;
    const variables = Object.fromEntries(Object.entries(environment).filter(([, v]) => typeof v === 'string'));
    const script = 'import json, sys; sys.path.insert(1, "."); from model.contract import model_class; from service.schemas import get_refusal, query_parameters; from service.settings import refusal; r = model_class(sys.argv[1]).Request; print(json.dumps({"refusal": get_refusal(r), "fields": query_parameters(r), "settings": refusal(json.loads(sys.argv[2]))}))';
    const { refusal, fields, settings } = JSON.parse(
      execFileSync(this.python(), ['-c', script, model, JSON.stringify(variables)], { cwd: this.serverless.serviceDir }).toString()
    );
    if (refusal) this.fail(`API_CACHE=1 caches GET /predict, which MODEL=${model} has none of: its ${refusal} (a query string cannot carry it)`);
    if (settings) this.fail(settings);
    return fields;
  }

  // The zip's hash: it carries the model artifact and the code that shapes an answer.
  codeVersion() {
    const artifact = this.serverless.service.package.artifact;
    return crypto.createHash('sha256').update(fs.readFileSync(artifact)).digest('hex').slice(0, 16);
  }

  // CloudFormation's MethodSetting has no field for who may invalidate an entry, so
  // deploy/l0.py sets it on the deployed stage (with the credentials osls used).
  protectInvalidation() {
    if (!this.options().apiCache) return;
    const provider = this.serverless.getProvider('aws');
    const profile = this.cliOptions['aws-profile'];
    execFileSync(this.python(), [path.join(__dirname, 'l0.py'), '--stack', provider.naming.getStackName(),
      '--stage', provider.getStage(), '--region', provider.getRegion()], {
      cwd: this.serverless.serviceDir,
      stdio: 'inherit',
      env: profile ? { ...process.env, AWS_PROFILE: profile } : process.env,
    });
  }

  python() {
    return venvPython(this.serverless.serviceDir);
  }
}

function gatewayResponse(type, { status, retryAfter, message = '$context.error.messageString' }) {
  const headers = { 'gatewayresponse.header.Content-Type': "'application/json'" };
  if (retryAfter) headers['gatewayresponse.header.Retry-After'] = `'${retryAfter}'`;
  const properties = {
    RestApiId: { Ref: 'ApiGatewayRestApi' },
    ResponseType: type,
    ResponseParameters: headers,
    ResponseTemplates: { 'application/json': `{"message": ${message}}` },
  };
  if (status) properties.StatusCode = status;
  return { Type: 'AWS::ApiGateway::GatewayResponse', Properties: properties };
}

module.exports = Front;
module.exports.checkFront = checkFront;
