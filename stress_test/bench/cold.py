"""`make bench-cold`: time to first response of a fresh process, L2 hit vs miss.

Each run starts two new interpreters on the same payload against an embedded moto
DynamoDB server: the first misses (imports scikit-learn, loads the model, writes
L2), the second is a cold container whose first request is an L2 hit. The time
is measured by the parent from spawn to answer, interpreter start-up included.

    python -m stress_test.bench_cold [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

from stress_test.measurements import save
from stress_test.payloads import unique_payloads


def cold_start(payload: dict, env: dict[str, str]) -> dict:
    """Spawn a fresh interpreter; time from spawn to its answer (not to its exit)."""
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "stress_test.cold_probe", json.dumps(payload)],
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Cold-start time: L2 hit vs miss")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)

    from service.local import dynamodb_server, use_local_dynamodb

    table = f"cold-{uuid.uuid4().hex[:8]}"
    results: dict[str, list[dict]] = {"MISS": [], "HIT-L2": []}
    with dynamodb_server() as endpoint:
        use_local_dynamodb(endpoint, table)
        env = {
            **os.environ,
            "CACHE_MODE": "tiered",
            "CACHE_TABLE": table,
            "MODEL_PRELOAD": "0",
            "LOG_LEVEL": "WARNING",
        }
        for payload in unique_payloads(args.runs, offset=700_000):
            for expected in ("MISS", "HIT-L2"):
                result = cold_start(payload, env)
                if result["status"] != 200 or result["cache"] != expected:
                    raise SystemExit(f"expected {expected}, got {result}")
                results[expected].append(result)

    print(f"\ntime to first response of a fresh process, median of {args.runs} runs")
    print(f"{'first request':14} {'total ms':>9} {'init ms':>8} {'request ms':>11}  sklearn")
    medians = {}
    for outcome, runs in results.items():
        medians[outcome] = statistics.median(r["total_s"] for r in runs) * 1000
        init = statistics.median(r["init_s"] for r in runs) * 1000
        request = statistics.median(r["first_request_s"] for r in runs) * 1000
        loaded = {r["sklearn_imported"] for r in runs}
        print(f"{outcome:14} {medians[outcome]:9.0f} {init:8.0f} {request:11.0f}  {loaded}")
    requests = {
        o: statistics.median(r["first_request_s"] for r in runs) for o, runs in results.items()
    }
    init = statistics.median(r["init_s"] for runs in results.values() for r in runs)
    save(
        "bench_cold",
        {
            "init_ms": round(init * 1000, 1),
            "model_load_ms": round((requests["MISS"] - requests["HIT-L2"]) * 1000, 1),
            "runs": args.runs,
        },
    )
    ratio = medians["HIT-L2"] / medians["MISS"]
    verdict = "meets" if ratio <= 1 / 3 else "misses"
    print(f"\nL2-hit / miss = {ratio:.2f} ({verdict} the <= 0.33 target)")


if __name__ == "__main__":
    main()
