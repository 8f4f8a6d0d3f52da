"""`predcache bench`: per-request latency of each cache path, side by side in one run.

Requests go through the Lambda entry point (Mangum with an API Gateway HTTP API
event), as in AWS, against an embedded moto DynamoDB server on 127.0.0.1:

    L1 hit     payload already in this container's memory
    L2 hit     fresh container (empty L1), payload in the table
    miss       model run + L2 read miss + L2 write
    cache off  model only

and one `POST /predict/batch` of 1000 items, 90% of them in L2, on a fresh
container: DynamoDB calls made, total time and time per item. Then a fresh
container on a hung table (a socket that accepts and never answers) with the
default L2 settings: what each request waits before and after the breaker opens.
Last, server mode against the framework's floor (stress_test/bench/floor.py): a
cached `POST /predict` under uvicorn, in requests per second, beside a bare FastAPI
app served and loaded the same way.

    predcache bench [--requests 300]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
import uuid
from collections import Counter
from typing import Any

import orjson

from cache.stats import percentile
from service.ops.lambda_local.events import http_api_v2_event
from service.settings import Settings
from stress_test.bench import floor
from stress_test.machine import describe_machine
from stress_test.measurements import save
from stress_test.payloads import unique_payloads


def bench_settings(**overrides: Any) -> Settings:
    """The environment's settings, quiet, with the model loaded at start."""
    settings = Settings.from_env()
    return dataclasses.replace(settings, model_preload=True, log_level="WARNING", **overrides)


class InProcessFunction:
    """A warm Lambda container in miniature: one app (its own L1) behind Mangum, on the
    local table at `endpoint` (tiered) or with the cache `mode` given."""

    def __init__(self, endpoint: str | None = None, table: str = "", mode: str = "") -> None:
        from mangum import Mangum

        from cache.dynamodb import DynamoDBStore
        from service.factory import create_app
        from service.ops.local import local_client

        settings = bench_settings(cache_mode=mode or ("tiered" if endpoint else "memory"))
        store = None
        if table:  # a table on the embedded moto server, not the hung one
            from service.ops.local import EMBEDDED_L2_ENV

            limits = Settings.from_env(EMBEDDED_L2_ENV | dict(os.environ))
            settings = dataclasses.replace(
                settings,
                l2_timeout_seconds=limits.l2_timeout_seconds,
                l2_budget_seconds=limits.l2_budget_seconds,
                l2_slow_call_seconds=limits.l2_slow_call_seconds,
            )
        if endpoint:
            client = local_client(endpoint, settings.l2_timeout_seconds, settings.l2_max_attempts)
            store = DynamoDBStore(table or settings.cache_table, client)
        self.app = create_app(settings, inline=True, store=store)
        self._handler = Mangum(self.app, lifespan="off")

    def __call__(self, event: dict) -> dict:
        return self._handler(event, None)

    def count_dynamodb_calls(self) -> Counter:
        calls: Counter = Counter()
        client = self.app.state.predictions.cache.store.client
        client.meta.events.register(
            "before-call.dynamodb", lambda model, **_: calls.update([model.name])
        )
        return calls


def timed(container: InProcessFunction, events: list[dict], expect: str) -> list[float]:
    samples = []
    for event in events:
        started = time.perf_counter()
        response = container(event)
        samples.append(time.perf_counter() - started)
        outcome = orjson.loads(response["body"])["cache"]
        if response["statusCode"] != 200 or outcome != expect:
            raise RuntimeError(f"expected {expect}, got {response['statusCode']} {outcome}")
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    """(p50, p99) in ms, by the rule `/stats` uses (`cache.stats.percentile`)."""
    ordered = sorted(samples)
    return percentile(ordered, 0.5) * 1000, percentile(ordered, 0.99) * 1000


def model_batch_costs(repeats: int = 50) -> dict[str, float]:
    """Median time of one `predict_many` call for 1 row and for 100 rows."""
    from model.contract import load_model

    settings = Settings.from_env()
    predictor = load_model(settings.model, settings.model_path)
    costs = {}
    for size in (1, 100):
        rows = unique_payloads(size)
        predictor.predict_many(rows)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            predictor.predict_many(rows)
            times.append(time.perf_counter() - started)
        costs[f"predict_many, {size} row(s)"] = summary(times)[0] / 1000
    return costs


def batch_run(
    endpoint: str, table: str, size: int = 1000, cached_share: float = 0.9
) -> dict[str, Any]:
    """One batch on a fresh container, `cached_share` of its items already in L2."""
    items = unique_payloads(size, offset=300_000)
    InProcessFunction(endpoint, table)(
        http_api_v2_event({"items": items[: int(size * cached_share)]}, "/predict/batch")
    )
    reader = InProcessFunction(endpoint, table)
    calls = reader.count_dynamodb_calls()
    started = time.perf_counter()
    response = reader(http_api_v2_event({"items": items}, "/predict/batch"))
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "totals": orjson.loads(response["body"])["cache"], "calls": calls}


def hung_table_run(requests: int = 10) -> list[float]:
    """Seconds per request of a fresh container whose table never answers."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        container = InProcessFunction(f"http://127.0.0.1:{server.getsockname()[1]}")
        events = [http_api_v2_event(p) for p in unique_payloads(requests, offset=600_000)]
        return timed(container, events, "MISS")


def measure_paths(requests: int) -> tuple[list[tuple[str, float, float]], dict[str, Any]]:
    from service.ops.local import embedded_table

    table = f"bench-{uuid.uuid4().hex[:8]}"
    events = [http_api_v2_event(p) for p in unique_payloads(requests)]
    warmup = [http_api_v2_event(p) for p in unique_payloads(20, offset=500_000)]
    rows = []
    with embedded_table(table) as endpoint:
        off = InProcessFunction(mode="off")
        timed(off, warmup, "MISS")
        rows.append(("cache off (model only)", *summary(timed(off, events, "MISS"))))
        writer = InProcessFunction(endpoint, table)
        timed(writer, warmup, "MISS")
        rows.append(("miss (L2 get + model + L2 put)", *summary(timed(writer, events, "MISS"))))
        rows.append(("L1 hit", *summary(timed(writer, events, "HIT-L1"))))
        reader = InProcessFunction(endpoint, table)
        timed(reader, warmup, "HIT-L2")
        rows.append(("L2 hit (moto server, HTTP)", *summary(timed(reader, events, "HIT-L2"))))
        batch = batch_run(endpoint, table)
    return rows, batch, hung_table_run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="predcache bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per path")
    args = parser.parse_args(argv)
    print(describe_machine(), flush=True)
    rows, batch, hung = measure_paths(args.requests)
    outcomes = ("off", "MISS", "HIT-L1", "HIT-L2")  # the order of `run`'s rows
    service_ms = {
        o: {"p50": round(m, 3), "p99": round(p, 3)}
        for o, (_n, m, p) in zip(outcomes, rows, strict=True)
    }
    save("bench", {"service_ms": service_ms, "requests": args.requests})
    off_median = rows[0][1]
    print(f"\n{args.requests} requests per path through the Lambda handler (Mangum, HTTP API v2)")
    print(f"{'path':34} {'p50 ms':>10} {'p99 ms':>9} {'speed-up vs off':>16}")
    for name, median, p99 in rows:
        print(f"{name:34} {median:10.3f} {p99:9.3f} {off_median / median:15.1f}x")
    print("\nmodel alone:")
    for name, seconds in model_batch_costs().items():
        print(f"{name:34} {seconds * 1000:10.3f} ms")
    items = sum(batch["totals"].values())
    per_item_ms = batch["seconds"] * 1000 / items
    l2_single_ms = rows[3][1]
    print(f"\nPOST /predict/batch, {items} items on a fresh container: {batch['totals']}")
    print(f"DynamoDB calls: {dict(batch['calls'])}")
    print(
        f"total {batch['seconds'] * 1000:.1f} ms = {per_item_ms:.3f} ms per item "
        f"(single L2-hit request: {l2_single_ms:.3f} ms, {l2_single_ms / per_item_ms:.1f}x)"
    )
    settings = Settings.from_env()
    failures = settings.l2_breaker_failures
    print(
        f"\nhung table, fresh container, L2_BUDGET_SECONDS={settings.l2_budget_seconds}: "
        f"first {failures} requests max {max(hung[:failures]) * 1000:.0f} ms "
        f"(budget {settings.l2_budget_seconds * 1000:.0f} ms + the model); breaker open after: "
        f"p50 {summary(hung[failures:])[0]:.2f} ms"
    )
    floor.report(unique_payloads(1, offset=170_000)[0])


if __name__ == "__main__":
    main()
