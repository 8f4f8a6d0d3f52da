"""Check the packaged Lambda zip: it fits, it is complete, and it answers.

    python deploy/check_package.py [.serverless/predcache.zip]

Prints the unzipped size and the largest top-level entries; exits non-zero when the
size exceeds Lambda's 262,144,000 bytes, one of predcache's own files is missing
(bytecode for the runtime included) or one that is never the function's (tests, operator
tools, a venv) is present, the model's code or artifact is missing, when the
function's L2 budget (`L2_BUDGET_SECONDS`, from the packaged
template's environment or the service's default) does not leave the rest of a request
room within the function's timeout, or when the unzipped package, run on the runtime's
Python with the function's environment (deploy/package_runs.py), does not answer the
model's own example `MISS`, then `HIT-L1` with the same value, then `HIT-L2` from a
fresh container. `package OK` only then; otherwise one line per failure, naming what
failed (the missing module, the refused value), and the zip is removed, so nothing
half-built is left to deploy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

from elf import unresolved_lines
from package_runs import (
    PackageRunError,
    app_key,
    container,
    example_events,
    function,
    limits,
    log_error,
)
from requirements_cache import remember, user_cache

from service.ops.lambda_local.runtime import sandbox_refusal

HERE = Path(__file__).resolve().parent
# a new check is a new key
LOCAL_LAMBDA = HERE.parent / "service" / "ops" / "lambda_local"
CHECKED_BY = [
    *(HERE / name for name in ("check_package.py", "package_runs.py", "image.py", "elf.py")),
    *(LOCAL_LAMBDA / name for name in ("runtime.py", "runtime_api.py")),
]

LAMBDA_UNZIPPED_LIMIT = 262_144_000
# predcache's own function, in every package whatever the model: what else a package
# holds is what the traced run of its model opened (deploy/shape_package.py), and that
# it is enough is shown by the unzipped package answering (check_answers)
REQUIRED = (
    "service/handler.py",
    "service/__pycache__/handler.{tag}.pyc",  # the function's own bytecode
    "cache/tiered.py",
    "model/artifact.py",
    "model/contract.py",
    "fastapi/__init__.py",
    "fastapi/__pycache__/applications.{tag}.pyc",  # the requirements' bytecode
    "mangum/__init__.py",
)
FORBIDDEN_TOP = {"tests", "stress_test", "node_modules", ".venv"}
FORBIDDEN_PREFIXES = ("service/ops/",)  # operator tools: warm, inspect, local stacks, prices
# The share of MemorySize a container's peak (RSS, measured here) may reach: the rest is
# headroom for what this machine's run cannot see (the runtime's own process on Lambda,
# another allocator's fragmentation, a larger batch than the example's)
MEMORY_USABLE = 0.9
# What a request needs of the function's timeout besides L2: a cold miss imports
# scikit-learn and loads the model (~2.9 s on the slow 2-core machine, docs/benchmarks.md).
HEADROOM_SECONDS = 5.0
# unzipped packages kept in the user's cache (the newest; none used in the last 10 min is
# in use): make test-deploy's variants of one zip, and its own models', unzip once
UNPACKED_KEPT, UNPACKED_IN_USE_S = 3, 600


def check_model(zip_path: Path, template_path: Path) -> list[str]:
    """The zip carries the module and artifact of the model the function's MODEL names."""
    from model.artifact import manifest_path_for
    from model.contract import DEFAULT_MODEL, model_class

    problems = []
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
    for resource in json.loads(template_path.read_text())["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        spec = variables.get("MODEL") or DEFAULT_MODEL
        cls = model_class(spec)
        artifact = Path("model/artifacts") / cls.artifact_file
        module = spec.partition(":")[0].replace(".", "/")
        print(f"MODEL={spec}: {module}, {artifact}")
        if f"{module}.py" not in names and f"{module}/__init__.py" not in names:
            problems.append(f"missing {module}.py (MODEL={spec})")
        for name in (artifact.as_posix(), manifest_path_for(artifact).as_posix()):
            if name not in names and not any(n.startswith(f"{name}/") for n in names):
                problems.append(f"missing {name} (MODEL={spec})")  # a file, or a folder's
    return problems


def budget_and_timeout(properties: dict) -> tuple[float, float]:
    """A template function's L2 budget (its `L2_BUDGET_SECONDS`, else the service's
    default) and its timeout (Lambda's default is 3 s)."""
    from service.settings import Settings

    raw = properties.get("Environment", {}).get("Variables", {}).get("L2_BUDGET_SECONDS")
    budget = float(raw) if isinstance(raw, str) else Settings().l2_budget_seconds
    return budget, float(properties.get("Timeout", 3))


def check_timeouts(template_path: Path) -> list[str]:
    """Each function's L2 budget plus the headroom fits within its timeout."""
    resources = json.loads(template_path.read_text())["Resources"]
    problems = []
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        budget, timeout = budget_and_timeout(resource["Properties"])
        print(f"{name}: L2 budget {budget} s + {HEADROOM_SECONDS} s headroom, timeout {timeout} s")
        if budget + HEADROOM_SECONDS > timeout:
            problems.append(
                f"{name}: L2_BUDGET_SECONDS={budget} leaves less than {HEADROOM_SECONDS} s of "
                f"the function's {timeout} s timeout; lower it or raise provider.timeout"
            )
    return problems


def bytecode_tag(zip_path: Path) -> str:
    """`cpython-312` for the runtime the package was built for (its template's, else
    serverless.yml's default)."""
    template = zip_path.parent / "cloudformation-template-update-stack.json"
    runtimes = []
    if template.exists():
        resources = json.loads(template.read_text())["Resources"].values()
        runtimes = [r["Properties"].get("Runtime") for r in resources
                    if r["Type"] == "AWS::Lambda::Function"]  # fmt: skip
    if not runtimes:
        from service.ops.template import runtime

        runtimes = [runtime()]
    return "cpython-" + runtimes[0].removeprefix("python").replace(".", "")


def check(zip_path: Path) -> list[str]:
    """Size (Lambda's limit), predcache's own files and what is never the function's."""
    with zipfile.ZipFile(zip_path) as archive:
        infos = archive.infolist()
    names = {info.filename for info in infos}
    total = sum(info.file_size for info in infos)
    by_top: Counter[str] = Counter()
    for info in infos:
        by_top[info.filename.split("/", 1)[0]] += info.file_size
    print(f"{zip_path}: {zip_path.stat().st_size:,} bytes zipped, {len(infos):,} files")
    mib = total / 2**20
    print(f"unzipped: {total:,} bytes ({mib:.1f} MiB); Lambda allows {LAMBDA_UNZIPPED_LIMIT:,}")
    for top, size in by_top.most_common(8):
        print(f"  {size / 2**20:8.1f} MiB  {top}")
    problems = []
    if total >= LAMBDA_UNZIPPED_LIMIT:
        problems.append(f"unzipped size {total:,} exceeds {LAMBDA_UNZIPPED_LIMIT:,}")
    tag = bytecode_tag(zip_path)
    required = [name.format(tag=tag) for name in REQUIRED]
    problems += [f"missing {name}" for name in required if name not in names]
    problems += [f"must not ship {top}/" for top in sorted(FORBIDDEN_TOP & set(by_top))]
    problems += [
        f"must not ship {name}" for name in sorted(names) if name.startswith(FORBIDDEN_PREFIXES)
    ]
    return problems


def the_function(template_path: Path) -> dict:
    """The function's properties, its `door` and `env` (its variables given as text:
    the rest are CloudFormation references no local run can resolve)."""
    resources = json.loads(template_path.read_text())["Resources"]
    (function_,) = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    door = "rest" if any(r["Type"] == "AWS::ApiGateway::RestApi" for r in resources.values()) \
        else "http"  # an HTTP API's or a function URL's event (v2)  # fmt: skip
    properties = function_["Properties"]
    variables = properties.get("Environment", {}).get("Variables", {})
    env = {k: v for k, v in variables.items() if isinstance(v, str)}
    return properties | {"door": door, "env": env}


def _value(body: dict) -> dict:
    """An answer less what differs between a miss and a hit."""
    return {k: v for k, v in body.items() if k not in ("cache", "age_s")}


def check_answers(zip_path: Path, template_path: Path) -> list[str]:
    """The unzipped package, with the function's environment, answers the model's own
    example: MISS, HIT-L1 with the same value, then HIT-L2 from a fresh container (as
    far as its CACHE_MODE keeps values)."""
    from model.contract import DEFAULT_MODEL

    properties = the_function(template_path)
    env = properties["env"]
    spec = env.get("MODEL") or DEFAULT_MODEL
    key = app_key(env)
    mode = env.get("CACHE_MODE", "tiered")
    wanted = {"off": ("MISS", "MISS", "MISS"), "memory": ("MISS", "HIT-L1", "MISS")}.get(
        mode, ("MISS", "HIT-L1", "HIT-L2"))  # fmt: skip
    digest = zip_digest(zip_path)
    function_ = [env, properties["Runtime"], properties["door"], limits(properties),
                 sandbox_refusal()]  # fmt: skip
    checked = _checked_before(digest, function_)
    if checked.exists():  # these bytes, with this environment, answered already
        print(f"{checked.read_text().strip()} (this zip and environment, checked before)")
        return []
    task = unpacked(zip_path, digest)
    missing = unresolved_lines(task, "the package")
    if missing:
        return [f"MODEL={spec}: {line}" for line in missing]
    try:
        with function([task], env, properties["Runtime"], *limits(properties)) as running:
            python, run_env, sandbox = running
            one = example_events(spec, properties["door"], key)["one"]
            first, facts = container(python, task, run_env, [one, one], sandbox)
            fresh, fresh_facts = container(python, task, run_env, [one], sandbox)
    except PackageRunError as exc:
        return [f"MODEL={spec}: {exc}"]
    for logged in (facts, fresh_facts):
        if logged["compiled"]:
            late = logged["compiled"][:5]
            return [f"MODEL={spec}: the packaged function imported modules without "
                    f"bytecode (compiled at every cold start): {late}"]  # fmt: skip
    peak, cold = max(facts["peak_mib"], fresh_facts["peak_mib"]), cold_miss(facts)
    problems = check_limits(spec, properties, peak, cold)
    if problems:
        return problems
    answers = [*zip(first, [facts, facts], strict=True), (fresh[0], fresh_facts)]
    seen = []
    for (reply, logged), expected in zip(answers, wanted, strict=True):
        body = json.loads(reply["body"])
        if reply["status"] != 200 or body.get("cache") != expected:
            cause = log_error(logged)
            return [f"MODEL={spec}: the packaged function answered its example "
                    f"{reply['status']} {body.get('cache') or body.get('message')!r} where "
                    f"{expected} was due{': ' + cause if cause else ''}"]  # fmt: skip
        seen.append(expected)
        if _value(body) != _value(json.loads(first[0]["body"])):
            return [f"MODEL={spec}: the packaged function's {expected} answer differs from "
                    f"its MISS: {reply['body'][:200]}"]  # fmt: skip
    memory, tmp = limits(properties)
    sandboxed = "read-only code, " if sandbox is not None else "WRITABLE code (not checked), "
    said = (
        f"MODEL={spec}: the unzipped package on {properties['Runtime']} answered its example "
        f"{', '.join(seen)} ({sandboxed}/tmp {tmp:,} MiB; peak {peak:,.0f} of {memory:,} MiB, "
        f"cold miss {cold:.1f} s of {properties.get('Timeout', 3)} s here)"
    )
    print(said)
    remember(checked, said + "\n")
    return []


def cold_miss(facts: dict) -> float:
    """A fresh container's init and first answer, in seconds."""
    return facts["init_s"] + facts["seconds"][0]


def check_limits(spec: str, properties: dict, peak: float, cold: float) -> list[str]:
    """The containers' `peak` memory (MiB) within the function's MemorySize (less the
    headroom), and the `cold` miss within its timeout less the L2 budget."""
    memory, _tmp = limits(properties)
    problems = []
    if peak > memory * MEMORY_USABLE:
        problems.append(
            f"MODEL={spec}: the function peaked at {peak:,.0f} MiB here, over "
            f"{MEMORY_USABLE:.0%} of its MemorySize of {memory:,} MiB (Lambda ends a function "
            "past it): raise provider.memorySize in serverless.yml, or make the model smaller"
        )
    budget, timeout = budget_and_timeout(properties)
    if cold > timeout - budget:
        problems.append(
            f"MODEL={spec}: its cold miss took {cold:.1f} s here, past the function's "
            f"{timeout:g} s timeout less its {budget:g} s L2 budget: raise provider.timeout "
            "in serverless.yml (Lambda's CPU is the memory's share: more memory, more CPU)"
        )
    return problems


def zip_digest(zip_path: Path) -> str:
    return hashlib.sha256(zip_path.read_bytes()).hexdigest()[:16]


def unpacked(zip_path: Path, digest: str) -> Path:
    """The zip's files, unzipped once per zip into the user's cache (the function only
    reads them: no bytecode is written) and moved in whole; older ones are removed."""
    folder = user_cache() / "unpacked"
    target = folder / digest
    if not target.is_dir():
        partial = folder / f"{digest}.{os.getpid()}.partial"
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(partial)
        try:
            partial.rename(target)
        except OSError:  # another check unzipped it first
            shutil.rmtree(partial, ignore_errors=True)
    os.utime(target)
    newest = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    kept = [p for p in newest if not p.name.endswith(".partial")][:UNPACKED_KEPT]
    for old in newest:
        if old not in kept and time.time() - old.stat().st_mtime > UNPACKED_IN_USE_S:
            shutil.rmtree(old, ignore_errors=True)
    return target


def _checked_before(digest: str, function_: list) -> Path:
    """Where a check of these zip bytes with this function (environment, runtime, door;
    the image's entry point) is remembered: make test-deploy's variants that differ only
    in their template (L0, IAM) are one check, and a package made again is not rerun."""
    key = hashlib.sha256(digest.encode())
    key.update(json.dumps(function_, sort_keys=True).encode())
    for source in CHECKED_BY:
        key.update(source.read_bytes())
    return user_cache() / "checked" / key.hexdigest()[:16]


def check_image(zip_path: Path, template_path: Path) -> list[str]:
    """The container-image deployment of this package (deploy/image.py), run through
    its entry point; the zip it came from is removed (the image replaces it)."""
    import image

    properties = the_function(template_path)
    env = properties["env"]
    key = app_key(env)
    try:
        target = image.write(zip_path, template_path)
    except image.ImageError as exc:
        return [str(exc)]
    print(f"container image: {target}/ (Dockerfile, task/, the template with PackageType: Image)")
    function_ = [env, properties["Runtime"], properties["door"], image.RIC]
    checked = _checked_before(zip_digest(zip_path), function_)
    if checked.exists():  # this task root, with this environment, answered already
        print(f"{checked.read_text().strip()} (this task root and environment, checked before)")
        problems = []
    else:
        problems = image.check(target, properties, key)
        if not problems:
            remember(checked, f"MODEL={env.get('MODEL')}: the image's entry point answered "
                              "its example MISS, HIT-L1, HIT-L2\n")  # fmt: skip
    zip_path.unlink()
    return problems


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else ".serverless/predcache.zip")
    kind = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else "zip"
    if kind not in ("zip", "image"):
        raise SystemExit(f"PACKAGE={kind} is not a kind of package: use zip or image")
    template = path.parent / "cloudformation-template-update-stack.json"
    with zipfile.ZipFile(path) as archive:
        too_big = sum(i.file_size for i in archive.infolist()) >= LAMBDA_UNZIPPED_LIMIT
    if template.exists() and (kind == "image" or too_big):
        if too_big:
            print(f"{path} is past Lambda's {LAMBDA_UNZIPPED_LIMIT:,} bytes unzipped: an image")
        problems = check_timeouts(template) + check_image(path, template)
    else:
        problems = check(path)
    if template.exists() and kind == "zip" and not too_big:
        problems += check_timeouts(template)
        problems += check_model(path, template)
        if not problems:
            problems += check_answers(path, template)
    for problem in problems:
        print(f"FAIL: {problem}")
    if problems:
        path.unlink(missing_ok=True)
        shutil.rmtree(path.parent / "image", ignore_errors=True)
        raise SystemExit(f"{path} removed: it must not be deployed")
    print("package OK")


if __name__ == "__main__":
    main()
