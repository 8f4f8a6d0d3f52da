"""`make serve`: the API on 127.0.0.1 with an embedded DynamoDB-compatible server.

With `CACHE_MODE=tiered` and no `AWS_ENDPOINT_URL_DYNAMODB`, a moto server is
started on a free loopback port, the cache table is created there with TTL on
`expires_at`, and the service is pointed at it. Nothing needs an AWS account.

    python -m service.local [--host 127.0.0.1] [--port 8000] [--workers 1]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from cache.dynamodb import create_table, make_client
from service.settings import Settings, SettingsError

# Where `make serve` says which embedded table it serves, for `make warm` and
# `python -m service.cache` run beside it (relative to the working directory).
STATE_FILE = Path(".predcache") / "local.json"
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


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


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """End a child we started: SIGTERM, then SIGKILL if it has not exited in `timeout`."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def advertised(endpoint: str, table: str) -> Iterator[None]:
    """`STATE_FILE` names the embedded table while the block runs."""
    STATE_FILE.parent.mkdir(exist_ok=True)
    STATE_FILE.write_bytes(orjson.dumps({"endpoint": endpoint, "table": table}))
    try:
        yield
    finally:
        STATE_FILE.unlink(missing_ok=True)


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


def use_local_dynamodb(endpoint: str, table: str) -> None:
    """Point this process and its children at `endpoint` and create the table there."""
    for name, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    create_table(make_client(timeout=5, endpoint_url=endpoint), table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve predcache locally")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)

    import uvicorn

    # uvicorn re-raises SIGTERM after its own shutdown: exit through `finally` so
    # the embedded DynamoDB server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        sys.exit(f"predcache: {exc}")
    with contextlib.ExitStack() as stack:
        if settings.cache_mode == "tiered" and not settings.dynamodb_endpoint:
            endpoint = stack.enter_context(dynamodb_server())
            use_local_dynamodb(endpoint, settings.cache_table)
            stack.enter_context(advertised(endpoint, settings.cache_table))
            print(f"embedded DynamoDB (moto) at {endpoint}", file=sys.stderr, flush=True)
        uvicorn.run(
            "service.app:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            loop="uvloop",
            http="httptools",
            access_log=False,
        )


if __name__ == "__main__":
    main()
