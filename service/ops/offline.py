"""`predcache offline` (`make offline`): the real `serverless.yml` on 127.0.0.1 through
serverless-offline.

    predcache offline [--port 3000] [--idle-seconds 60] [--front rest|http]
                                                              (CACHE_MODE=off|memory|tiered)

API Gateway's REST routes with `private: true` enforced (send `x-api-key:
predcache-local-key-0123456789`, the `offline` stage's fixed key), or with `--front
http` an HTTP API's routes (payload 2.0), where the app checks that key itself (HTTP
APIs have no API keys; serverless-offline has no function URLs), and the handler
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
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.ops.local import embedded_table, local_env
from service.ops.processes import free_port, stop, wait_for_port
from service.ops.template import OFFLINE_STAGE, ROOT, offline_api_key, offline_table_name

IDLE_SECONDS = 60  # containers idle this long are reaped (serverless-offline's default)
FRONTS = ("rest", "http")  # the doors serverless-offline serves (deploy/front.js has three)
OSLS = ROOT / "node_modules" / ".bin" / "osls"  # run directly: npx costs ~1 s of CPU a call
# A counting run's L2 times (offline stage params): a cold container's first calls on a
# machine whose cores parallel builds hold must not pose as a degraded table (wave 2
# of the pool conformance found no L2 entry once in CI, 2026-12-08, cold miss 7.8 s)
COUNTING_L2 = {"l2TimeoutSeconds": "2.0", "l2BudgetSeconds": "4.5", "l2SlowCallSeconds": "2.0"}


class OfflineError(RuntimeError):
    """The offline stack cannot start: one line says what is missing and how to get it."""


def missing_tools() -> str | None:
    """What `make offline` lacks, as one line, or None."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "make offline needs Node.js 18+ and npm: apt-get install nodejs npm"
    if not (ROOT / "node_modules" / "serverless-offline" / "package.json").exists():
        return "serverless-offline is not installed: run `npm ci` (make offline does)"
    return None


@dataclass(frozen=True)
class Stack:
    url: str
    process: subprocess.Popen
    dynamodb: str | None  # the embedded table's endpoint (tiered)


@contextlib.contextmanager
def offline_stack(
    port: int,
    mode: str,
    log: Any,
    idle_seconds: int = IDLE_SECONDS,
    front: str = "rest",
    counting: bool = False,
) -> Iterator[Stack]:
    """serverless-offline (and moto for `tiered`) for the block.

    serverless-offline and its Python containers run in a process group of their own,
    which is stopped as a whole on exit. `counting`: a run that counts containers,
    tiers and answers, not latency, on a machine whose cores parallel builds may hold:
    no function timeout (a 504 after 15 s: three cold starts at `nice 10` beside them
    took longer in CI on 2026-12-07) and loose L2 times (`COUNTING_L2`).
    """
    problem = missing_tools()
    if problem:
        raise OfflineError(problem)
    env = _environment(mode)
    with contextlib.ExitStack() as stack:
        endpoint = None
        if mode == "tiered":
            endpoint = stack.enter_context(embedded_table(offline_table_name()))
            env |= local_env(endpoint)
        command = [
            str(OSLS), "offline", "start", "--stage", OFFLINE_STAGE,
            "--host", "127.0.0.1", "--httpPort", str(port), "--lambdaPort", str(free_port()),
            "--noPrependStageInUrl", "--terminateIdleLambdaTime", str(idle_seconds),
            f"--param=front={front}",
            *(["--noTimeout", *(f"--param={k}={v}" for k, v in COUNTING_L2.items())]
              if counting else []),
        ]  # fmt: skip
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        stack.callback(_stop_group, process)
        try:
            wait_for_port("127.0.0.1", port, timeout=90)
        except TimeoutError as exc:
            raise OfflineError(f"serverless-offline did not listen on :{port} in 90 s") from exc
        yield Stack(f"http://127.0.0.1:{port}", process, endpoint)


def _environment(mode: str) -> dict[str, str]:
    """serverless-offline's environment: this venv's python3, no telemetry, dummy keys
    (nothing here reaches AWS)."""
    venv = Path(sys.executable).parent.parent
    return {
        **os.environ,
        "CACHE_MODE": mode,
        "VIRTUAL_ENV": str(venv),
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_NOTIFICATIONS_MODE": "off",
        "SLS_DEPRECATION_DISABLE": "*",
        **local_env(),
    }


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the group we started (osls, its Python containers), then wait."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    stop(process)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # containers that ignored SIGTERM


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="predcache offline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=3000, help="port of the REST API")
    parser.add_argument(
        "--idle-seconds",
        type=int,
        default=IDLE_SECONDS,
        help="an idle container (Python process) is reaped after this",
    )
    parser.add_argument(
        "--front", choices=FRONTS, default="rest",
        help="the front door: API Gateway's REST API (API keys) or an HTTP API (the app's keys)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    from service.settings import Settings, SettingsError

    try:
        mode = Settings.from_env().cache_mode
    except SettingsError as exc:
        print(f"predcache: {exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        with offline_stack(args.port, mode, None, args.idle_seconds, args.front) as stack:
            print(
                f"predcache offline ({mode}, {args.front} door) on {stack.url}: POST /predict, "
                f"GET /predict?…, POST /predict/batch with x-api-key: {offline_api_key()}; "
                "GET /health",
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
