"""`predcache bench-cold`: time to first response of a fresh process, L2 hit vs miss.

Each run starts two new interpreters on the same payload against an embedded moto
DynamoDB server: the first misses (imports scikit-learn, loads the model, writes
L2), the second is a cold container whose first request is an L2 hit. The time
is measured by the parent from spawn to answer, interpreter start-up included.

    predcache bench-cold [--runs 7]
    predcache bench-cold --package .serverless/predcache.zip [--runs 7]

`--package` runs the unzipped Lambda package on the runtime's Python (3.12) with
bytecode writes off (a Lambda environment starts from the zip), as shipped and with
its .pyc files removed, side by side in one run.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from cache.stats import median
from service.ops.lambda_local.events import http_api_v2_event
from service.ops.lambda_local.runtime import package_variants
from stress_test.machine import describe_machine
from stress_test.measurements import save
from stress_test.payloads import unique_payloads

PROBE = Path(__file__).with_name("cold_probe.py")


def cold_start(
    payload: dict, env: dict[str, str], restore: bool = False, python: str = sys.executable
) -> dict:
    """Spawn a fresh interpreter; time from spawn to its answer (not to its exit). With
    `restore`, the probe's own figure counts instead: fork to first response."""
    started = time.perf_counter()
    flags = ["--restore"] if restore else []
    event = json.dumps(http_api_v2_event(payload))
    with subprocess.Popen(
        [python, str(PROBE), *flags, event], env=env, stdout=subprocess.PIPE, text=True
    ) as process:
        line = process.stdout.readline()
        answered = time.perf_counter()
        process.wait()
    if process.returncode != 0 or not line:
        raise SystemExit(f"cold probe failed with exit code {process.returncode}")
    report = json.loads(line)
    return report if restore else report | {"total_s": answered - started}


RESTORED = "restored MISS"  # SnapStart's stand-in: fork after the before-snapshot hook
ROWS = {"MISS": False, "HIT-L2": False, RESTORED: True}  # row -> restore
Setup = tuple[str, dict[str, str]]  # the interpreter and the environment a probe runs in


def measure(runs: int, setups: dict[str, Setup], rows: dict[str, bool]) -> dict[str, list]:
    """`runs` payloads, each answered by a cold miss, then by a cold L2 hit; and as many
    new payloads answered by a restored container (model in its snapshot); in each
    setup, one after the other, so that they share the machine's state of the moment."""
    from service.ops.local import embedded_table, local_env

    table = f"cold-{uuid.uuid4().hex[:8]}"
    results: dict[str, list[dict]] = {f"{row}{label}": [] for label in setups for row in rows}
    payloads = iter(unique_payloads(2 * runs * len(setups), offset=700_000))
    tiered = {"CACHE_MODE": "tiered", "CACHE_TABLE": table, "MODEL_PRELOAD": "0",
              "LOG_LEVEL": "WARNING"}  # fmt: skip
    with embedded_table(table) as endpoint:
        for _ in range(runs):
            for label, (python, base) in setups.items():
                env = {**base, **local_env(endpoint), **tiered}
                payload, new = next(payloads), next(payloads)
                for row, restore in rows.items():
                    result = cold_start(new if restore else payload, env, restore, python)
                    expected = row.split()[-1]
                    if result["status"] != 200 or result["cache"] != expected:
                        raise SystemExit(f"expected {expected}, got {result}")
                    results[f"{row}{label}"].append(result)
    return results


def report(results: dict[str, list[dict]], runs: int, ratios: list[tuple]) -> None:
    """Print the medians and the `ratios` (row, baseline row, target or None)."""
    print(f"\ntime to first response of a fresh process, p50 of {runs} runs")
    print(f"{'first request':24} {'total ms':>9} {'init ms':>8} {'request ms':>11}  sklearn")
    # restored rows: "init" is the after-restore hook (fork to ready)
    totals = {}
    for outcome, rows in results.items():
        totals[outcome] = median([r["total_s"] for r in rows]) * 1000
        init = median([r["init_s"] for r in rows]) * 1000
        request = median([r["first_request_s"] for r in rows]) * 1000
        loaded = {r["sklearn_imported"] for r in rows}
        print(f"{outcome:24} {totals[outcome]:9.0f} {init:8.0f} {request:11.0f}  {loaded}")
    print()
    for row, baseline, target in ratios:
        ratio = totals[row] / totals[baseline]
        verdict = ""
        if target is not None:
            verdict = f" ({'meets' if ratio <= target else 'misses'} the <= {target} target)"
        print(f"{row} / {baseline} = {ratio:.3f}{verdict}")


def _compile_own_code() -> None:
    """Bytecode for the project's modules, as the package ships it (deploy/assemble.js):
    in a shell with PYTHONDONTWRITEBYTECODE set, every probe would compile them."""
    import cache
    import model
    import service

    for package in (cache, model, service):
        compileall.compile_dir(Path(package.__file__).parent, quiet=1)


def _local(runs: int) -> None:
    """The project's own environment: the measurements the simulation reads."""
    _compile_own_code()
    results = measure(runs, {"": (sys.executable, dict(os.environ))}, ROWS)
    report(results, runs, [("HIT-L2", "MISS", 0.25), (RESTORED, "MISS", 0.1)])
    print(
        "restored: fork to first response after the before-snapshot hook (no Firecracker "
        "restore, no first-touch page faults)"
    )
    requests = {o: median([r["first_request_s"] for r in rows]) for o, rows in results.items()}
    init = median([r["init_s"] for o in ("MISS", "HIT-L2") for r in results[o]])
    model_load_ms = round((requests["MISS"] - requests["HIT-L2"]) * 1000, 1)
    save("bench_cold", {"init_ms": round(init * 1000, 1), "model_load_ms": model_load_ms,
                        "runs": runs})  # fmt: skip


def _package(runs: int, zip_path: Path) -> None:
    """The Lambda package on the runtime's Python, as shipped and without bytecode."""
    with package_variants(zip_path) as (python, variants):
        setups = {f" {label}": (python, env) for label, env in variants.items()}
        rows = {"MISS": False, "HIT-L2": False}
        results = measure(runs, setups, rows)
    shipped, bare = setups
    report(results, runs, [(f"{row}{shipped}", f"{row}{bare}", None) for row in rows])
    print(f"{python}, PYTHONDONTWRITEBYTECODE=1 (Lambda keeps only the zip's bytecode)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="predcache bench-cold", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per path")
    parser.add_argument("--package", type=Path, help="a Lambda zip: run it on python3.12")
    args = parser.parse_args(argv)
    print(describe_machine(), flush=True)
    if args.package:
        _package(args.runs, args.package)
    else:
        _local(args.runs)


if __name__ == "__main__":
    main()
