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


def cold_start(payload: dict, env: dict[str, str], restore: bool = False) -> dict:
    """Spawn a fresh interpreter; time from spawn to its answer (not to its exit). With
    `restore`, the probe's own figure counts instead: fork to first response."""
    started = time.perf_counter()
    flags = ["--restore"] if restore else []
    with subprocess.Popen(
        [sys.executable, "-m", "stress_test.bench.cold_probe", *flags, json.dumps(payload)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
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


def measure(runs: int) -> dict[str, list[dict]]:
    """`runs` payloads, each answered by a cold miss, then by a cold L2 hit; and as many
    new payloads answered by a restored container (model in its snapshot)."""
    from service.ops.local import embedded_table, local_env

    table = f"cold-{uuid.uuid4().hex[:8]}"
    results: dict[str, list[dict]] = {row: [] for row in ROWS}
    with embedded_table(table) as endpoint:
        env = {
            **os.environ,
            **local_env(endpoint),
            "CACHE_MODE": "tiered",
            "CACHE_TABLE": table,
            "MODEL_PRELOAD": "0",
            "LOG_LEVEL": "WARNING",
        }
        fresh = unique_payloads(runs, offset=760_000)
        for payload, new in zip(unique_payloads(runs, offset=700_000), fresh, strict=True):
            for row, restore in ROWS.items():
                result = cold_start(new if restore else payload, env, restore)
                expected = row.split()[-1]
                if result["status"] != 200 or result["cache"] != expected:
                    raise SystemExit(f"expected {expected}, got {result}")
                results[row].append(result)
    return results


def report(results: dict[str, list[dict]], runs: int) -> None:
    print(f"\ntime to first response of a fresh process, p50 of {runs} runs")
    print(f"{'first request':14} {'total ms':>9} {'init ms':>8} {'request ms':>11}  sklearn")
    # restored rows: "init" is the after-restore hook (fork to ready)
    totals = {}
    for outcome, rows in results.items():
        totals[outcome] = median([r["total_s"] for r in rows]) * 1000
        init = median([r["init_s"] for r in rows]) * 1000
        request = median([r["first_request_s"] for r in rows]) * 1000
        loaded = {r["sklearn_imported"] for r in rows}
        print(f"{outcome:14} {totals[outcome]:9.0f} {init:8.0f} {request:11.0f}  {loaded}")
    print()
    for row, target in (("HIT-L2", 0.25), (RESTORED, 0.1)):
        ratio = totals[row] / totals["MISS"]
        verdict = "meets" if ratio <= target else "misses"
        print(f"{row} / cold MISS = {ratio:.3f} ({verdict} the <= {target} target)")
    print(
        "restored: fork to first response after the before-snapshot hook (no Firecracker "
        "restore, no first-touch page faults)"
    )


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
    init = median([r["init_s"] for o in ("MISS", "HIT-L2") for r in results[o]])
    model_load_ms = round((requests["MISS"] - requests["HIT-L2"]) * 1000, 1)
    save("bench_cold", {"init_ms": round(init * 1000, 1), "model_load_ms": model_load_ms,
                        "runs": args.runs})  # fmt: skip


if __name__ == "__main__":
    main()
