"""`make offline`: the real `serverless.yml` served on 127.0.0.1 by serverless-offline.

    python -m service.offline [--port 3000] [--log FILE]       (CACHE_MODE=off|memory|tiered)

API Gateway's REST routes with `private: true` enforced (send `x-api-key:
predcache-local-key-0123456789`, the `offline` stage's fixed key), and the handler
`service/handler.handler` in serverless-offline's own Lambda pool: one Python
process per container, one request at a time each, a new container when all are
busy, idle ones reaped. With `CACHE_MODE=tiered` an embedded moto DynamoDB starts
first and the cache table is created as the template declares it. Everything the
template sets in `environment` applies; local values live in its `offline` stage
params. No AWS account is used.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "serverless.yml"
STAGE = "offline"
API_KEY = "predcache-local-key-0123456789"  # serverless.yml: params.offline.apiKeys
TABLE_RESOURCE = "PredictionCacheTable"
IDLE_SECONDS = 60  # containers idle this long are reaped (serverless-offline's default)


class OfflineError(RuntimeError):
    """The offline stack cannot start: one line says what is missing and how to get it."""


def missing_tools() -> str | None:
    """What `make offline` lacks, as one line, or None."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "make offline needs Node.js 18+ and npm: apt-get install nodejs npm"
    if not (ROOT / "node_modules" / "serverless-offline" / "package.json").exists():
        return "serverless-offline is not installed: run `npm ci` (make offline does)"
    return None


@functools.cache
def template() -> dict[str, Any]:
    """serverless.yml as data (CloudFormation tags such as !Ref read as None), parsed once."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load(TEMPLATE.read_text(), Loader=Loader)


def table_name() -> str:
    return template()["params"][STAGE]["cacheTable"]


def create_table_as_declared(client: Any, name: str) -> None:
    """The cache table exactly as the template's resource declares it: keys, billing, TTL."""
    properties = template()["resources"]["Resources"][TABLE_RESOURCE]["Properties"]
    with contextlib.suppress(client.exceptions.ResourceInUseException):
        client.create_table(
            TableName=name,
            AttributeDefinitions=properties["AttributeDefinitions"],
            KeySchema=properties["KeySchema"],
            BillingMode=properties["BillingMode"],
        )
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
    ttl = properties["TimeToLiveSpecification"]
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": ttl["Enabled"], "AttributeName": ttl["AttributeName"]},
    )


@dataclass(frozen=True)
class Stack:
    url: str
    process: subprocess.Popen
    dynamodb: str | None  # the embedded table's endpoint (tiered)


@contextlib.contextmanager
def offline_stack(
    port: int, mode: str, log: Any, idle_seconds: int = IDLE_SECONDS
) -> Iterator[Stack]:
    """serverless-offline (and moto for `tiered`) for the block.

    serverless-offline and its Python containers run in a process group of their own,
    which is stopped as a whole on exit.
    """
    from cache import make_client
    from service.local import LOCAL_CREDENTIALS, dynamodb_server, free_port, stop, wait_for_port

    problem = missing_tools()
    if problem:
        raise OfflineError(problem)
    for name, value in LOCAL_CREDENTIALS.items():  # dummy ones, for moto and the containers
        os.environ.setdefault(name, value)
    venv = Path(sys.executable).parent.parent
    env = {
        **os.environ,
        "CACHE_MODE": mode,
        "VIRTUAL_ENV": str(venv),  # serverless-offline runs this venv's python3
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_NOTIFICATIONS_MODE": "off",
        "SLS_DEPRECATION_DISABLE": "*",
    }
    with contextlib.ExitStack() as stack:
        endpoint = None
        if mode == "tiered":
            endpoint = stack.enter_context(dynamodb_server())
            client = make_client(timeout=5, endpoint_url=endpoint)
            create_table_as_declared(client, table_name())
            env["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        command = [
            "npx", "serverless", "offline", "start", "--stage", STAGE,
            "--host", "127.0.0.1", "--httpPort", str(port), "--lambdaPort", str(free_port()),
            "--noPrependStageInUrl", "--terminateIdleLambdaTime", str(idle_seconds),
        ]  # fmt: skip
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        stack.callback(_stop_group, process, stop)
        try:
            wait_for_port("127.0.0.1", port, timeout=90)
        except TimeoutError as exc:
            raise OfflineError(f"serverless-offline did not listen on :{port} in 90 s") from exc
        yield Stack(f"http://127.0.0.1:{port}", process, endpoint)


def _stop_group(process: subprocess.Popen, stop: Any) -> None:
    """SIGTERM the group we started (npx, node, its Python containers), then wait."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    stop(process)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # containers that ignored SIGTERM


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.offline", description=__doc__)
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--idle-seconds", type=int, default=IDLE_SECONDS)
    args = parser.parse_args(argv)
    from service.settings import Settings, SettingsError

    try:
        mode = Settings.from_env().cache_mode
    except SettingsError as exc:
        print(f"predcache: {exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        with offline_stack(args.port, mode, None, args.idle_seconds) as stack:
            print(
                f"predcache offline ({mode}) on {stack.url}: POST /predict, /predict/batch "
                f"with x-api-key: {API_KEY}; GET /health",
                file=sys.stderr,
                flush=True,
            )
            stack.process.wait()
    except OfflineError as exc:
        print(f"predcache offline: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
