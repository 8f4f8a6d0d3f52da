"""A simulation checked against a measured load run: each mode simulated with the run's
exact configuration, every figure compared with its gap and target."""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from cache.outcome import Outcome
from stress_test.lambda_view import stack_figures
from stress_test.scenarios import Options
from stress_test.simulation.aws import AwsLimits
from stress_test.simulation.model import Config, Times, simulate

TARGETS = {"hit_rate_pp": 2.0, "containers_pct": 15.0, "model_loads_pct": 15.0, "p50_pct": 25.0,
           "requests_pct": 15.0}  # fmt: skip
# What a validation takes from the very run it checks: agreement on these is partly
# by construction; the request count, hit rates, containers and model loads emerge.
FROM_THE_RUN = ("handler ms per outcome (the containers' own, warm)",
                "client overhead per outcome (locust p50 minus handler p50)")  # fmt: skip


# serverless-offline has no API Gateway throttles, no concurrency or scaling limits and
# no lifetime; it hands a request the oldest idle container, and runs each on this
# machine's CPUs (no memory-sized share).
UNLIMITED = 10**9
EMULATED_STACK = {
    "limits": AwsLimits(
        plan_rate=UNLIMITED, plan_burst=UNLIMITED, plan_quota_per_month=UNLIMITED,
        account_rate=UNLIMITED, account_burst=UNLIMITED, account_concurrency=UNLIMITED,
        scaling_bucket=UNLIMITED, scaling_refill_per_s=UNLIMITED,
        requests_per_concurrency=UNLIMITED,
    ),
    "routing": "lowest",
    "max_lifetime_s": float(UNLIMITED),
    "cpu_scaling": False,
}  # fmt: skip


def config_of_run(summary: dict[str, Any], row: dict[str, Any]) -> Config:
    """The exact configuration of one measured mode, to simulate it."""
    from service.ops.offline import IDLE_SECONDS

    params = summary["params"]
    options = Options(**{f.name: params[f.name] for f in fields(Options) if f.name in params})
    return Config(
        scenario=params["scenario"],
        mode=row["cache_mode"],
        stack=params.get("stack", "local"),
        users=params["users"],
        spawn_rate=params.get("spawn_rate") or 0.0,
        duration=row["duration_s"] or params["duration"],
        idle_seconds=IDLE_SECONDS,  # serverless-offline's reaper in the measured stack
        # serverless-offline's containers share this machine's cores
        cores=(os.cpu_count() or 1) if params.get("stack") == "lambda" else 0,
        options=options,
        memory_mb=(row.get("lambda") or {}).get("memory_mb", 1024),
        **EMULATED_STACK,
    )


def _pct(simulated: float | None, measured: float | None) -> float | None:
    if simulated is None or not measured:
        return None
    return round(100 * abs(simulated - measured) / measured, 1)


def compare(simulated: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Simulated vs measured, each figure with its gap and whether it meets its target."""
    measured_items = sum(row[o.field] for o in Outcome)
    measured_rate = {o: row[o.field] / measured_items for o in Outcome} if measured_items else {}
    gaps = {
        f"hit rate {o} (pp)": round(100 * abs(simulated["hit_rate"][o] - measured_rate[o]), 2)
        for o in measured_rate
        if simulated["hit_rate"][o] is not None
    }
    checks = {name: (gap, gap <= TARGETS["hit_rate_pp"]) for name, gap in gaps.items()}
    view = row.get("lambda") or {}
    for name, sim_key, view_key, target in (
        ("containers started (%)", "containers_started", "containers_started", "containers_pct"),
        ("model loads (%)", "containers_loading_model", "containers_loading_model",
         "model_loads_pct"),
    ):  # fmt: skip
        gap = _pct(simulated[sim_key], view.get(view_key))
        if gap is not None:
            checks[name] = (gap, gap <= TARGETS[target])
    gap = _pct((simulated["latency_ms"] or {}).get("p50"), row.get("p50_ms"))
    if gap is not None:
        checks["latency p50 (%)"] = (gap, gap <= TARGETS["p50_pct"])
    gap = _pct(simulated["requests"], row.get("requests"))
    if gap is not None:
        checks["requests (%)"] = (gap, gap <= TARGETS["requests_pct"])
    return {
        "mode": row["cache_mode"],
        "simulated": simulated,
        "checks": {name: {"gap": g, "ok": ok} for name, (g, ok) in checks.items()},
        "measured": {
            "hit_rate": {o: round(v, 4) for o, v in measured_rate.items()},
            "containers_started": view.get("containers_started"),
            "containers_loading_model": view.get("containers_loading_model"),
            "p50_ms": row.get("p50_ms"),
            "requests": row.get("requests"),
        },
        "inputs_from_the_run": list(FROM_THE_RUN),
    }


def validate_run(summary_path: Path, data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """Each measured mode of a run simulated with its exact configuration, compared."""
    summary = json.loads(summary_path.read_text())
    results = []
    for row in summary["modes"]:
        config = config_of_run(summary, row)
        times = Times.measured(data, config.mode, path, stack_figures(summary["modes"]))
        results.append(compare(simulate(config, times), row))
    return results
