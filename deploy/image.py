"""Beyond a zip: the package as a Lambda container image (`make package PACKAGE=image`,
or on its own when the zip would pass Lambda's 250 MB unzipped limit).

Writes `<package dir>/image/`: `task/` (the zip's contents, the same task root),
a `Dockerfile` on AWS's Lambda Python base image for the function's runtime (it
copies `task/` into `LAMBDA_TASK_ROOT` and names the handler in `CMD`, as AWS's base
images expect), and `cloudformation-template-update-stack.json`, the packaged
template with the function turned into `PackageType: Image` (its code an `ImageUri`
parameter: the image you pushed to ECR). No base image can be pulled here, so the
check runs what the image's entry point runs: the Lambda Runtime Interface Client
(`awslambdaric`, which AWS's base images carry) on the runtime's Python, with
`task/` as its task root, speaking the Runtime API to a local endpoint
(service/ops/lambda_local/runtime_api.py) that hands it the model's example: `MISS`,
`HIT-L1`, then a fresh process answering `HIT-L2`; as a zip's check does, with the task
root read-only, a private /tmp and only Lambda's and the template's variables
(deploy/package_runs.py), after every ELF file's libraries are found in the task root or
the base image (deploy/elf.py). docs/deploy.md says what only Docker can verify.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

from elf import unresolved_lines
from package_runs import PackageRunError, event, function, limits, log_error

from model.contract import model_class
from service.ops.lambda_local.runtime import RUNTIME_DIRS, Sandbox, installed
from service.ops.lambda_local.runtime_api import RuntimeApi

KINDS = ("zip", "image")
RIC = "awslambdaric==4.2.2"  # what AWS's Python base images run as the entry point
HANDLER = "service.handler.handler"
DOCKERFILE = """\
# predcache as a Lambda container image (make package PACKAGE=image): the same task
# root as the zip, on AWS's Lambda base image for {runtime}, which runs the Runtime
# Interface Client with the handler CMD names.
FROM public.ecr.aws/lambda/python:{version}
COPY task/ ${{LAMBDA_TASK_ROOT}}/
CMD ["{handler}"]
"""


class ImageError(RuntimeError):
    """The image deployment cannot be made; the message says why, in one line."""


def image_template(template: dict) -> dict:
    """The packaged template with its function as a container image: `PackageType:
    Image`, code from the `ImageUri` parameter, no handler or runtime (the image's
    CMD and base image say them). SnapStart does not apply to images: refused."""
    image = copy.deepcopy(template)
    for resource in image["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function":
            if "SnapStart" in properties:
                raise ImageError(
                    "SNAPSTART=1 with PACKAGE=image: SnapStart does not apply to container "
                    "images (docs/deploy.md); package one or the other"
                )
            for name in ("Handler", "Runtime"):
                properties.pop(name, None)
            properties["PackageType"] = "Image"
            properties["Code"] = {"ImageUri": {"Ref": "ImageUri"}}
        elif resource["Type"] == "AWS::Lambda::Version":
            properties.pop("CodeSha256", None)
    image.setdefault("Parameters", {})["ImageUri"] = {
        "Type": "String",
        "Description": "the pushed image (ECR URI with tag or digest) of .serverless/image/",
    }
    return image


def ric_packages(python: str, version: str) -> Path:
    """awslambdaric for the runtime's Python, installed once beside botocore's copy."""
    folder = RUNTIME_DIRS / f"lambda-runtime-{version}" / RIC.replace("==", "-")
    platform = ["--only-binary=:all:", "--python-version", version,
                "--platform", "manylinux_2_17_x86_64", RIC]  # fmt: skip
    return installed(folder, python, platform).resolve()


def write(zip_path: Path, template_path: Path) -> Path:
    """`image/` beside the package: task root, Dockerfile, template."""
    target = zip_path.parent / "image"
    shutil.rmtree(target, ignore_errors=True)
    template = json.loads(template_path.read_text())
    image = image_template(template)
    (function_,) = [r for r in template["Resources"].values()
                    if r["Type"] == "AWS::Lambda::Function"]  # fmt: skip
    runtime = function_["Properties"]["Runtime"]
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(target / "task")
    (target / "Dockerfile").write_text(DOCKERFILE.format(
        runtime=runtime, version=runtime.removeprefix("python"), handler=HANDLER))  # fmt: skip
    (target / "cloudformation-template-update-stack.json").write_text(json.dumps(image, indent=2))
    return target


def run_image(
    task: Path, python: str, env: dict[str, str], events: list[dict], sandbox: Sandbox | None
) -> list[dict]:
    """One process of the image's entry point on the runtime's Python: `awslambdaric`
    with the handler the Dockerfile names, in the task root (read-only, with a private
    /tmp, in `sandbox`), fed `events` by a local Runtime API; the responses, in order."""
    command = [python, "-m", "awslambdaric", HANDLER]
    with RuntimeApi(events) as api:
        process = subprocess.Popen(sandbox.wrap(command) if sandbox else command, cwd=task,
                                   env=env | {"AWS_LAMBDA_RUNTIME_API": api.address},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)  # fmt: skip
        try:
            answered = api.wait(timeout=120)
        finally:
            process.kill()
            _out, logged = process.communicate()
    if not answered:
        cause = api.init_error or log_error({"log": logged.splitlines()}) or logged[-300:]
        raise PackageRunError(f"the image's entry point did not answer: {cause}")
    return api.responses


def check(target: Path, properties: dict, key: str | None) -> list:
    """The image answers its model's example MISS, HIT-L1, then HIT-L2 from a fresh process
    (the template function's `properties`: its environment, runtime, door and limits)."""
    env, runtime = properties["env"], properties["Runtime"]
    spec = env["MODEL"]
    one = event(properties["door"], model_class(spec).example(), api_key=key)
    task = target / "task"
    # AWS's base image for the runtime holds the same libraries as the runtime
    missing = unresolved_lines(task, "the image's task root")
    if missing:
        return [f"MODEL={spec}: {line}" for line in missing]
    try:
        with function([task], env, runtime, *limits(properties)) as (python, run_env, sandbox):
            ric = ric_packages(python, runtime.removeprefix("python"))
            run_env |= {"PYTHONPATH": f"{run_env['PYTHONPATH']}:{ric}"}
            if sandbox is not None:
                sandbox = Sandbox((*sandbox.read_only, ric), sandbox.tmp_mib)
            replies = run_image(task, python, run_env, [one, one], sandbox)
            replies += run_image(task, python, run_env, [one], sandbox)  # a fresh process
    except PackageRunError as exc:
        return [f"MODEL={spec}: {exc}"]
    seen = [json.loads(reply.get("body") or "{}").get("cache") for reply in replies]
    if seen != ["MISS", "HIT-L1", "HIT-L2"]:
        return [f"MODEL={spec}: the image answered its example {seen}, not MISS, HIT-L1, HIT-L2"]
    print(f"MODEL={spec}: the image's entry point (awslambdaric, {runtime}) answered its "
          f"example {', '.join(seen)}")  # fmt: skip
    return []
