"""`predcache serve` (`make serve`): the API on 127.0.0.1 with an embedded DynamoDB table.

With `CACHE_MODE=tiered` and no `AWS_ENDPOINT_URL_DYNAMODB`, a moto server is
started on a free loopback port, the cache table is created there as
`serverless.yml` declares it, and uvicorn serves `service.app:app` against it with
dummy local credentials. Nothing needs an AWS account.

    predcache serve [--host 127.0.0.1] [--port 8000] [--workers 1]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from cache.dynamodb import make_client
from service.ops.processes import free_port, stop, wait_for_port
from service.ops.template import create_table
from service.settings import Settings, SettingsError

# Where `make serve` says which embedded table it serves, for `predcache warm` and
# `predcache inspect` run beside it (relative to the working directory).
STATE_FILE = Path(".predcache") / "local.json"
# L2 limits for a service on an embedded moto server: moto answers a 100-key
# BatchGetItem in ~60 ms of its own CPU (DynamoDB: ~10 ms) and shares the cores with
# the load, so the defaults would take its slowness for a degraded table. Applied
# unless the environment sets them.
EMBEDDED_L2_ENV = {
    "L2_TIMEOUT_SECONDS": "1.0",
    "L2_BUDGET_SECONDS": "2.0",
    "L2_SLOW_CALL_SECONDS": "1.0",
}
LOCAL_REGION = "us-east-1"
# The URL of one moto server that the jobs of a run share, each with a table of its own
# (make test-deploy: each package's trace and check, and each offline stack, would start
# a server, ~0.4 s of CPU each; deploy/with_dynamodb.py runs a command with one). Unset:
# a server per table.
SHARED_DYNAMODB_ENV = "PREDCACHE_SHARED_DYNAMODB"
# Dummy credentials for a local DynamoDB-compatible server (it checks none, botocore signs).
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def local_env(endpoint: str | None = None) -> dict[str, str]:
    """What a child process needs to use a local table (`endpoint`): region, dummy keys."""
    env = {
        "AWS_REGION": LOCAL_REGION,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        **{name.upper(): value for name, value in LOCAL_CREDENTIALS.items()},
    }
    return env | ({"AWS_ENDPOINT_URL_DYNAMODB": endpoint} if endpoint else {})


def local_client(endpoint: str, timeout: float = 5.0, max_attempts: int = 2) -> Any:
    """A DynamoDB client for a local server, with the dummy credentials passed explicitly."""
    return make_client(
        timeout, max_attempts, endpoint, region=LOCAL_REGION, credentials=LOCAL_CREDENTIALS
    )


@contextlib.contextmanager
def dynamodb_server(host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """A moto server in a child process for the duration of the block; yields its URL."""
    port = port or free_port(host)
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(host, port)
        yield f"http://{host}:{port}"
    finally:
        stop(process)


@contextlib.contextmanager
def embedded_table(table: str) -> Iterator[str]:
    """A moto server holding `table` (as the template declares it); yields its URL.
    Under SHARED_DYNAMODB_ENV, the table is made on that server and deleted after."""
    shared = os.environ.get(SHARED_DYNAMODB_ENV)
    with contextlib.nullcontext(shared) if shared else dynamodb_server() as endpoint:
        client = local_client(endpoint)
        create_table(client, table)
        try:
            yield endpoint
        finally:
            if shared:  # a server that is gone has no table left to delete
                with contextlib.suppress(BotoCoreError, ClientError):
                    client.delete_table(TableName=table)


@contextlib.contextmanager
def advertised(endpoint: str, table: str) -> Iterator[None]:
    """`STATE_FILE` names the embedded table while the block runs; at its end the file
    is removed only if it is still this process's own."""
    STATE_FILE.parent.mkdir(exist_ok=True)
    mine = orjson.dumps({"endpoint": endpoint, "table": table, "pid": os.getpid()})
    STATE_FILE.write_bytes(mine)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if STATE_FILE.read_bytes() == mine:
                STATE_FILE.unlink()


def local_table() -> tuple[str, str]:
    """(endpoint, table) of the `make serve` running from this directory."""
    try:
        state = orjson.loads(STATE_FILE.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise FileNotFoundError(
            f"no `make serve` with an embedded table runs from here ({STATE_FILE} is missing): "
            "start one, or name a table with --table (AWS) or --endpoint"
        ) from exc
    return state["endpoint"], state["table"]


def uvicorn_command(host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "service.app:app", "--host", host, "--port", str(port),
        "--workers", str(workers), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="predcache serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=8000, help="port to bind")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--no-advertise",
        action="store_true",
        help=f"do not name the embedded table in {STATE_FILE} (the load runs' own servers: "
        "`make warm` and `inspect --local` keep finding `make serve`'s)",
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"predcache: {exc}", file=sys.stderr)
        return 1
    # Stop through `finally`, so the embedded DynamoDB server and uvicorn end too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    env = dict(os.environ)
    with contextlib.ExitStack() as stack:
        if settings.cache_mode == "tiered" and not settings.dynamodb_endpoint:
            endpoint = stack.enter_context(embedded_table(settings.cache_table))
            if not args.no_advertise:
                stack.enter_context(advertised(endpoint, settings.cache_table))
            env = EMBEDDED_L2_ENV | env | local_env(endpoint)
            print(f"embedded DynamoDB (moto) at {endpoint}", file=sys.stderr, flush=True)
        server = subprocess.Popen(uvicorn_command(args.host, args.port, args.workers), env=env)
        stack.callback(stop, server)
        try:
            return server.wait()
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main())
