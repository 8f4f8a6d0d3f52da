"""`predcache bench-cold`: time to first response of a fresh process, L2 hit vs miss.

Each run starts two new interpreters on the same payload against an embedded moto
DynamoDB server: the first misses (imports scikit-learn, loads the model, writes
L2), the second is a cold container whose first request is an L2 hit. The time
is measured by the parent from spawn to answer, interpreter start-up included.

    predcache bench-cold [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid

from cache.stats import median
from stress_test.machine import describe_machine
from stress_test.measurements import save
from stress_test.payloads import unique_payloads


def cold_start(payload: dict, env: dict[str, str]) -> dict:
    """Spawn a fresh interpreter; time from spawn to its answer (not to its exit)."""
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "stress_test.bench.cold_probe", json.dumps(payload)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        line = process.stdout.readline()
        answered = time.perf_counter()
        process.wait()
    if process.returncode != 0 or not line:
        raise SystemExit(f"cold probe failed with exit code {process.returncode}")
    return json.loads(line) | {"total_s": answered - started}


def measure(runs: int) -> dict[str, list[dict]]:
    """`runs` payloads, each answered by a cold miss, then by a cold L2 hit."""
    from service.ops.local import embedded_table, local_env

    table = f"cold-{uuid.uuid4().hex[:8]}"
    results: dict[str, list[dict]] = {"MISS": [], "HIT-L2": []}
    with embedded_table(table) as endpoint:
        env = {
            **os.environ,
            **local_env(endpoint),
            "CACHE_MODE": "tiered",
            "CACHE_TABLE": table,
            "MODEL_PRELOAD": "0",
            "LOG_LEVEL": "WARNING",
        }
        for payload in unique_payloads(runs, offset=700_000):
            for expected in results:
                result = cold_start(payload, env)
                if result["status"] != 200 or result["cache"] != expected:
                    raise SystemExit(f"expected {expected}, got {result}")
                results[expected].append(result)
    return results


def report(results: dict[str, list[dict]], runs: int) -> None:
    print(f"\ntime to first response of a fresh process, p50 of {runs} runs")
    print(f"{'first request':14} {'total ms':>9} {'init ms':>8} {'request ms':>11}  sklearn")
    totals = {}
    for outcome, rows in results.items():
        totals[outcome] = median([r["total_s"] for r in rows]) * 1000
        init = median([r["init_s"] for r in rows]) * 1000
        request = median([r["first_request_s"] for r in rows]) * 1000
        loaded = {r["sklearn_imported"] for r in rows}
        print(f"{outcome:14} {totals[outcome]:9.0f} {init:8.0f} {request:11.0f}  {loaded}")
    ratio = totals["HIT-L2"] / totals["MISS"]
    verdict = "meets" if ratio <= 1 / 3 else "misses"
    print(f"\nL2-hit / miss = {ratio:.2f} ({verdict} the <= 0.33 target)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="predcache bench-cold", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    print(describe_machine(), flush=True)
    results = measure(args.runs)
    report(results, args.runs)
    requests = {o: median([r["first_request_s"] for r in rows]) for o, rows in results.items()}
    init = median([r["init_s"] for rows in results.values() for r in rows])
    model_load_ms = round((requests["MISS"] - requests["HIT-L2"]) * 1000, 1)
    save("bench_cold", {"init_ms": round(init * 1000, 1), "model_load_ms": model_load_ms,
                        "runs": args.runs})  # fmt: skip


if __name__ == "__main__":
    main()
