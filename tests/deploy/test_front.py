"""The front doors as packaged (deploy/front.js; `make test-deploy` packages each one):
REST with L0, HTTP API, function URL, and the gateway responses of the REST door."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from model.contract import DEFAULT_MODEL, model_class
from service.ops.template import template as serverless_yml
from stress_test.simulation.aws import DOORS, INTEGRATION_504, QUOTA_429
from tests.deploy.cfn import resources_of

pytestmark = pytest.mark.deploy
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))

from l0 import L0_METHOD, protect  # noqa: E402


def packaged(variant: str) -> dict:
    path = ROOT / f".serverless{variant}" / "cloudformation-template-update-stack.json"
    if not path.exists():
        pytest.fail(
            f"no {path.parent.name} template: run `make test-deploy` (it packages each door)"
        )
    return json.loads(path.read_text())


def l0_method(template: dict) -> dict:
    return template["Resources"]["ApiGatewayMethodPredictGet"]["Properties"]


def test_l0_keys_on_the_request_schema_and_the_callers_key() -> None:
    method = l0_method(packaged("-l0"))
    fields = model_class(DEFAULT_MODEL).Request.model_fields
    expected = [f"method.request.querystring.{name}" for name in fields]
    assert method["Integration"]["CacheKeyParameters"] == [
        *expected,
        "method.request.header.x-api-key",
    ]
    # required as the schema requires, checked by API Gateway before its cache
    assert all(method["RequestParameters"][p] is fields[p.rsplit(".", 1)[1]].is_required()
               for p in expected)  # fmt: skip
    validator = packaged("-l0")["Resources"][method["RequestValidatorId"]["Ref"]]
    assert validator["Properties"]["ValidateRequestParameters"] is True


def test_l0_caches_get_predict_alone_encrypted_within_aws_ttl() -> None:
    template = packaged("-l0")
    (deployment,) = resources_of(template, "AWS::ApiGateway::Deployment").values()
    stage = deployment["Properties"]["StageDescription"]
    assert stage["CacheClusterEnabled"] is True
    assert stage["CacheClusterSize"] == serverless_yml()["params"]["default"]["apiCacheSize"]
    everything, predict = stage["MethodSettings"]
    assert (everything["ResourcePath"], everything["CachingEnabled"]) == ("/*", False)
    assert (predict["ResourcePath"], predict["HttpMethod"]) == ("/~1predict", "GET")
    assert predict["CachingEnabled"] is True and predict["CacheDataEncrypted"] is True
    assert 1 <= predict["CacheTtlInSeconds"] <= 3600
    # the function answers an entry only while it outlives what L0 may keep of it
    (function,) = resources_of(template, "AWS::Lambda::Function").values()
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["L0_TTL_SECONDS"] == str(predict["CacheTtlInSeconds"])


def test_a_new_version_is_never_answered_from_the_old_ones_entries() -> None:
    """L0's namespace is the zip's hash: a new model artifact or code is a new namespace."""
    zip_hash = hashlib.sha256((ROOT / ".serverless-l0" / "predcache.zip").read_bytes())
    namespace = l0_method(packaged("-l0"))["Integration"]["CacheNamespace"]
    assert namespace == f"predict-{zip_hash.hexdigest()[:16]}"


def test_without_l0_nothing_is_cached() -> None:
    template = packaged("")
    (deployment,) = resources_of(template, "AWS::ApiGateway::Deployment").values()
    assert "StageDescription" not in deployment["Properties"]
    assert "CacheKeyParameters" not in l0_method(template)["Integration"]
    (function,) = resources_of(template, "AWS::Lambda::Function").values()
    assert "L0_TTL_SECONDS" not in function["Properties"]["Environment"]["Variables"]


def test_invalidating_an_l0_entry_needs_authorization(aws_env: None) -> None:
    """The L0 stack in moto, its stage as if authorization were off; deploy/l0.py (run
    after `osls deploy`) turns it on."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        cloudformation, apigateway = boto3.client("cloudformation"), boto3.client("apigateway")
        cloudformation.create_stack(
            StackName="predcache-l0", TemplateBody=json.dumps(packaged("-l0")),
            Capabilities=["CAPABILITY_IAM"],
        )  # fmt: skip
        (api,) = [r["PhysicalResourceId"] for r in cloudformation.list_stack_resources(
            StackName="predcache-l0")["StackResourceSummaries"]
            if r["LogicalResourceId"] == "ApiGatewayRestApi"]  # fmt: skip
        stage = apigateway.get_stages(restApiId=api)["item"][0]["stageName"]
        off = {"op": "replace", "value": "false",
               "path": f"/{L0_METHOD}/caching/requireAuthorizationForCacheControl"}  # fmt: skip
        apigateway.update_stage(restApiId=api, stageName=stage, patchOperations=[off])
        settings = protect(cloudformation, apigateway, "predcache-l0", stage)
    assert settings["requireAuthorizationForCacheControl"] is True
    assert settings["unauthorizedCacheControlHeaderStrategy"] == "SUCCEED_WITH_RESPONSE_HEADER"


def test_the_rest_door_answers_its_own_refusals_in_the_apps_shape_with_retry_after() -> None:
    """With the statuses the simulation's `rest` door counts (`predcache simulate`), so
    the two cannot drift apart."""
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources_of(packaged(""), "AWS::ApiGateway::GatewayResponse").values()
    }
    rest = DOORS["rest"]
    throttle = rest.lambda_throttle
    retryable = [("THROTTLED", rest.plan), ("QUOTA_EXCEEDED", QUOTA_429),
                 ("DEFAULT_5XX", throttle), ("INTEGRATION_FAILURE", throttle),
                 ("INTEGRATION_TIMEOUT", INTEGRATION_504)]  # fmt: skip
    for kind, simulated in retryable:
        response = responses[kind]
        assert response["StatusCode"] == str(simulated.code), kind
        assert "gatewayresponse.header.Retry-After" in response["ResponseParameters"], kind
    for response in responses.values():
        body = response["ResponseTemplates"]["application/json"]
        assert body.startswith('{"message": ') and body.endswith("}")
    assert responses["BAD_REQUEST_PARAMETERS"]["StatusCode"] == "422"  # L0's missing field


def routes(template: dict) -> set[tuple[str, str]]:
    """(METHOD, /path) of every route a template serves."""
    v2_routes = resources_of(template, "AWS::ApiGatewayV2::Route").values()
    if v2_routes:
        return {tuple(r["Properties"]["RouteKey"].split(" ")) for r in v2_routes}
    resources = resources_of(template, "AWS::ApiGateway::Resource")
    paths = {k: "/" + v["Properties"]["PathPart"] for k, v in resources.items()}
    paths["ApiGatewayResourcePredictBatch"] = "/predict/batch"
    return {(m["Properties"]["HttpMethod"], paths[m["Properties"]["ResourceId"]["Ref"]])
            for m in resources_of(template, "AWS::ApiGateway::Method").values()}  # fmt: skip


def test_the_http_door_serves_the_same_routes_with_the_apps_keys_and_the_plans_throttle() -> None:
    template = packaged("-http")
    assert routes(template) == routes(packaged(""))
    assert not resources_of(template, "AWS::ApiGateway::ApiKey")  # HTTP APIs have none
    function = template["Resources"]["ApiLambdaFunction"]["Properties"]
    # the keys' SSM SecureString by name, and read on that one parameter
    variables = function["Environment"]["Variables"]
    assert variables["API_KEYS_PARAMETER"] == "/predcache/dev/api-keys"
    assert "API_KEYS" not in variables
    (policy,) = template["Resources"]["IamRoleLambdaExecution"]["Properties"]["Policies"]
    reads = [
        s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == ["ssm:GetParameter"]
    ]
    assert [r["Resource"]["Fn::Sub"].rsplit(":", 1)[1] for r in reads] == [
        "parameter/predcache/dev/api-keys"
    ]
    throttle = serverless_yml()["provider"]["apiGateway"]["usagePlan"]["throttle"]
    stage = template["Resources"]["HttpApiStage"]["Properties"]["DefaultRouteSettings"]
    assert stage == {"ThrottlingBurstLimit": throttle["burstLimit"],
                     "ThrottlingRateLimit": throttle["rateLimit"]}  # fmt: skip


def test_the_url_door_is_a_function_url_behind_iam_without_app_keys() -> None:
    """`make test-deploy` packages the url door with URL_AUTH=aws_iam and no keys: the
    function must not be given keys to check (IAM is the check);
    the app-keys path is the http door's, checked above."""
    template = packaged("-url")
    (url,) = resources_of(template, "AWS::Lambda::Url").values()
    assert url["Properties"]["AuthType"] == "AWS_IAM"
    kinds = {v["Type"] for v in template["Resources"].values()}
    assert not [kind for kind in kinds if kind.startswith("AWS::ApiGateway")]
    function = template["Resources"]["ApiLambdaFunction"]["Properties"]
    assert not {"API_KEYS", "API_KEYS_PARAMETER"} & set(function["Environment"]["Variables"])


def test_no_packaged_template_carries_a_key() -> None:
    """Every variant make test-deploy packages: the app's keys are named, never given."""
    for variant in ("", "-snapstart", "-l0", "-http", "-url", "-image"):
        template = packaged(variant)
        for function in resources_of(template, "AWS::Lambda::Function").values():
            assert "API_KEYS" not in function["Properties"]["Environment"]["Variables"]
        assert "test-deploy-key" not in json.dumps(template)
