"""The packaged function run as Lambda runs it: cold containers on the runtime's Python,
against an embedded table, answering the served model's own OpenAPI example.

The one home of what `make package` asks of a package: deploy/shape_package.py
traces what these runs open (to leave out what they never do), deploy/check_package.py
runs them on the unzipped package before it says `package OK`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(1, os.getcwd())  # MODEL imports where predcache finds it

from model.contract import model_class
from service.ops.lambda_local.events import http_api_v2_event, rest_v1_event
from service.ops.lambda_local.runtime import (
    Sandbox,
    defined_variables,
    provided_packages,
    run_container,
    runtime_python,
    sandbox_refusal,
)
from service.ops.local import (
    EMBEDDED_L2_ENV,
    LOCAL_CREDENTIALS,
    LOCAL_REGION,
    embedded_table,
    local_env,
)

# Lambda's defaults where a template says nothing: 128 MB of memory and 512 MB of /tmp
# (AWS Lambda developer guide, "Configure Lambda function memory" and "ephemeral
# storage", read 2026-12-07); serverless.yml sets its own memorySize
DEFAULT_MEMORY_MIB, DEFAULT_TMP_MIB = 128, 512
# what the embedded SSM holds for a function whose keys live there (API_KEYS_PARAMETER)
CHECK_KEY = "package-check-key"


class PackageRunError(RuntimeError):
    """The packaged function did not answer as it must; the message says what, in one line."""


def app_key(environment: dict[str, str]) -> str | None:
    """The `x-api-key` the function's own key check accepts, or None (no check)."""
    if environment.get("API_KEYS_PARAMETER"):
        return CHECK_KEY
    return (environment.get("API_KEYS") or "").split(",")[0].strip() or None


def event(door: str, body: Any, path: str = "/predict", method: str = "POST",
          api_key: str | None = None) -> dict:  # fmt: skip
    """What the door hands the function: a REST (v1) event, or an HTTP API / function
    URL (v2) one; with the app's `x-api-key` when the function checks keys."""
    make = rest_v1_event if door == "rest" else http_api_v2_event
    built = make(body, path, method)
    if api_key:
        built["headers"]["x-api-key"] = api_key
    return built


def example_events(spec: str, door: str = "rest", api_key: str | None = None) -> dict[str, dict]:
    """The model's example as one request and as a batch (with its `payload(7)` when it
    has one), and the routes every request may take: health, stats, the docs pages and
    an asset of theirs, a 404, malformed JSON and an unknown field."""
    cls = model_class(spec)
    example = cls.example()
    try:
        other = cls.payload(7)
    except NotImplementedError:
        other = example
    return {
        "one": event(door, example, api_key=api_key),
        "batch": event(door, {"items": [example, other]}, "/predict/batch", api_key=api_key),
        "health": event(door, None, "/health", "GET"),
        "stats": event(door, None, "/stats", "GET", api_key),
        "openapi": event(door, None, "/openapi.json", "GET", api_key),
        "docs": event(door, None, "/docs", "GET", api_key),
        "redoc": event(door, None, "/redoc", "GET", api_key),
        # the pages' assets are served by the app (service/docs_pages.py): their package ships
        "docs_asset": event(door, None, "/docs/assets/swagger-ui.css", "GET", api_key),
        "missing": event(door, None, "/nope", "GET", api_key),
        "malformed": event(door, "{oops", api_key=api_key),
        "unknown": event(door, {**example, "predcache_unknown_field": 1}, api_key=api_key),
    }


@contextlib.contextmanager
def function(
    paths: list[Path],
    environment: dict[str, str],
    runtime: str,
    memory_mib: int = DEFAULT_MEMORY_MIB,
    tmp_mib: int = DEFAULT_TMP_MIB,
) -> Iterator[tuple[str, dict, Sandbox | None]]:
    """The runtime's Python (`python3.12`), a function's environment and its sandbox:
    code from `paths` (the unzipped package, or its parts) and botocore as the runtime
    provides it, read-only, with a private `/tmp` of `tmp_mib`; the variables Lambda
    defines and the function's own, none of this machine's; an embedded table in place
    of the stack's (and an embedded SSM holding its keys, when the function reads them
    there). Where no sandbox can be had, the sandbox is None and one line says what
    goes unchecked."""
    version = runtime.removeprefix("python")
    python = runtime_python(version)
    if python is None:
        raise PackageRunError(f"the package runs on {runtime}: `pyenv install {version}`")
    provided = provided_packages(python, version)
    table = f"package-{uuid.uuid4().hex[:8]}"
    with embedded_table(table) as endpoint:
        env = defined_variables(paths[0], provided, runtime, memory_mib)
        env |= environment | local_env(endpoint)
        env |= EMBEDDED_L2_ENV | {"CACHE_TABLE": table, "EMIT_METRICS": "0"}
        if environment.get("API_KEYS_PARAMETER"):
            _hold_keys(endpoint, environment["API_KEYS_PARAMETER"])
            env["AWS_ENDPOINT_URL_SSM"] = endpoint
        env["PYTHONPATH"] = ":".join([*map(str, paths), str(provided)])
        yield python, env, _sandbox((*paths, provided), tmp_mib)


def limits(properties: dict) -> tuple[int, int]:
    """A template function's MemorySize and ephemeral /tmp (MiB), Lambda's defaults where
    it sets none."""
    tmp = properties.get("EphemeralStorage", {}).get("Size", DEFAULT_TMP_MIB)
    return int(properties.get("MemorySize", DEFAULT_MEMORY_MIB)), int(tmp)


def _sandbox(code: tuple[Path, ...], tmp_mib: int) -> Sandbox | None:
    refused = sandbox_refusal()
    if refused is None:
        return Sandbox(tuple(Path(os.path.realpath(p)) for p in code), tmp_mib)
    print(f"NOT CHECKED: the code read-only and /tmp private ({refused}): a model that "
          "writes beside itself passes here and fails on Lambda", file=sys.stderr)  # fmt: skip
    return None


def _hold_keys(endpoint: str, name: str) -> None:
    import botocore.session

    ssm = botocore.session.get_session().create_client(
        "ssm", region_name=LOCAL_REGION, endpoint_url=endpoint, **LOCAL_CREDENTIALS
    )
    ssm.put_parameter(Name=name, Value=CHECK_KEY, Type="SecureString", Overwrite=True)


def container(
    python: str, task: Path, env: dict[str, str], events: list, sandbox: Sandbox | None
) -> tuple[list, dict]:
    """One cold container's replies and facts; a container that dies is a one-line error
    naming its last line of output (the exception)."""
    try:
        return run_container(python, task, env, events, sandbox)
    except RuntimeError as exc:
        last = [line for line in str(exc).splitlines() if line.strip()][-1:]
        raise PackageRunError(f"the function did not start: {''.join(last).strip()}") from None


def log_error(facts: dict) -> str:
    """The last exception the container logged (a 5xx's cause), or ''."""
    for line in reversed(facts.get("log", [])):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        for key in ("error", "exc_info", "exception"):
            if record.get(key):
                return str(record[key]).strip().splitlines()[-1]
    return ""
