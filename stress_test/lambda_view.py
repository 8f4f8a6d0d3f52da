"""The Lambda view of a load run: what the containers themselves reported, and its cost.

Input: the lines a stack printed. Each Lambda invocation prints one JSON line (its
EMF line with the container's facts, `service.invocation`; a mixed batch one line
per outcome); a local server prints EMF lines without container facts, so the
container figures are None there. Nothing is inferred from the client side.
Cost per million requests uses the dated price table (`service.ops.prices`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from cache.outcome import Outcome
from cache.stats import percentile
from service.ops.prices import cost_per_million


def read_lines(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The function's JSON lines in a stack's log, and the bytes they took."""
    lines, printed = [], 0
    with open(path, "rb") as handle:
        for raw in handle:
            start = raw.find(b'{"')
            if start < 0:
                continue
            with_newline = raw[start:]
            try:
                entry = orjson.loads(with_newline)
            except orjson.JSONDecodeError:
                continue
            printed += len(with_newline)
            if isinstance(entry, dict):
                lines.append(entry)
    return lines, printed


def percentiles(values: Iterable[float]) -> dict[str, float] | None:
    ordered = sorted(values)
    if not ordered:
        return None

    def at(q: float) -> float:
        return round(percentile(ordered, q), 3)

    return {"p50": at(0.5), "p99": at(0.99), "n": len(ordered)}


def _invocations(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per invocation: its facts and the items per outcome it answered."""
    merged: dict[tuple, dict[str, Any]] = {}
    for line in lines:
        if "ContainerId" not in line or line.get("Event") == "init":
            continue
        key = (line["ContainerId"], line["EndMs"], line["HandlerMs"])
        record = merged.setdefault(key, dict(line) | {"outcomes": Counter()})
        if "CacheOutcome" in line:
            record["outcomes"][line["CacheOutcome"]] += line["Items"]
    return sorted(merged.values(), key=lambda r: r["EndMs"] - r["HandlerMs"])


def _peak_concurrency(invocations: list[dict[str, Any]]) -> int:
    edges = []
    for record in invocations:
        end = record["EndMs"]
        edges += [(end - record["HandlerMs"], 1), (end, -1)]
    peak = current = 0
    for _at, step in sorted(edges, key=lambda e: (e[0], e[1])):
        current += step
        peak = max(peak, current)
    return peak


def _containers(invocations: list[dict[str, Any]], inits: set[str]) -> dict[str, Any]:
    by_container: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in invocations:
        by_container[record["ContainerId"]].append(record)
    first_cached, first_uncached, l1_rates = [], [], []
    for records in by_container.values():
        first = records[0]
        latency = first["InitMs"] + first["HandlerMs"]
        hit = first["outcomes"] and "MISS" not in first["outcomes"]
        (first_cached if hit else first_uncached).append(latency)
        items = Counter()
        for record in records:
            items.update(record["outcomes"])
        if sum(items.values()):
            l1_rates.append(items[Outcome.HIT_L1] / sum(items.values()))
    return {
        # a container counts once its init is done, answered or not by the end of the run
        "containers_started": len(inits | set(by_container)),
        "cold_starts": len(inits | set(by_container)),
        "containers_loading_model": sum(r["ModelLoaded"] for r in invocations),
        "model_load_invocation_ms": percentiles(
            r["HandlerMs"] for r in invocations if r["ModelLoaded"]
        ),
        "peak_concurrent_containers": _peak_concurrency(invocations),
        "first_response_ms": {
            "cached": percentiles(first_cached),
            "uncached": percentiles(first_uncached),
        },
        "l1_hit_rate_per_container": percentiles(l1_rates),
    }


def _by_outcome(emf: list[dict[str, Any]]) -> tuple[Counter, dict[str, list[float]]]:
    """Items per outcome, and the handler times of warm invocations per outcome (cold
    starts and model loads are figures of their own)."""
    items: Counter = Counter()
    times: dict[str, list[float]] = defaultdict(list)
    for line in emf:
        items[line["CacheOutcome"]] += line["Items"]
        if not (line.get("ColdStart") or line.get("ModelLoaded")):
            times[line["CacheOutcome"]].append(line.get("HandlerMs", line["Latency"]))
    return items, times


def lambda_view(
    lines: list[dict[str, Any]], printed_bytes: int, memory_mb: int, mode: str, requests: int
) -> dict[str, Any]:
    """The per-mode Lambda figures of one run (see the module docstring); `requests`:
    what the load generator counted, used where the stack reports no invocations."""
    invocations = _invocations(lines)
    emf = [line for line in lines if "CacheOutcome" in line]
    items, by_outcome = _by_outcome(emf)
    total_items = sum(items.values())
    init = percentiles(r["InitMs"] for r in invocations if r["ColdStart"])
    if invocations:
        requests = len(invocations)
        billed = [r["BilledMs"] for r in invocations]
        inits = {line["ContainerId"] for line in lines if line.get("Event") == "init"}
        containers = _containers(invocations, inits)
    else:  # a local server: no containers, its lookup latency stands for the handler
        requests = max(1, requests)
        billed = [math.ceil(line["Latency"]) for line in emf]
        containers = dict.fromkeys(
            ("containers_started", "cold_starts", "containers_loading_model",
             "peak_concurrent_containers", "first_response_ms", "l1_hit_rate_per_container",
             "model_load_invocation_ms"),
        )  # fmt: skip
    reads = (items[Outcome.HIT_L2] + items[Outcome.MISS]) / requests if mode == "tiered" else 0.0
    writes = items[Outcome.MISS] / requests if mode == "tiered" else 0.0
    mean_billed = sum(billed) / len(billed) if billed else 0.0
    return {
        "invocations": len(invocations) or None,
        **containers,
        "handler_ms_by_outcome": {o: percentiles(by_outcome[o]) for o in Outcome},
        "billed_ms": percentiles(billed) | {"mean": round(mean_billed, 3)} if billed else None,
        "init_ms": init,
        "hit_rate": {o: round(items[o] / total_items, 4) if total_items else None for o in Outcome},
        "log_bytes_per_request": round(printed_bytes / requests, 1),
        "memory_mb": memory_mb,
        # priced where the run had Lambda: the Lambda stack, behind the REST door that
        # serverless-offline emulates; a local server has neither, so no price
        "cost_per_million_requests_usd": cost_per_million(
            mean_billed, memory_mb, reads, writes, printed_bytes / requests
        )
        if invocations
        else None,
    }


def stack_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What a simulation of a stack takes from a run of it: per mode and outcome, the
    handler's time under that load (warm invocations) and the client's overhead on top."""
    modes = {}
    for row in rows:
        handler, overhead = {}, {}
        for outcome, figures in row["lambda"]["handler_ms_by_outcome"].items():
            client = row["latency_by_outcome"].get(outcome)
            if figures and client:
                handler[outcome] = figures
                overhead[outcome] = max(0.0, client["p50_ms"] - figures["p50"])
        modes[row["cache_mode"]] = {"handler_ms": handler, "overhead_ms": overhead}
    return {"modes": modes}
