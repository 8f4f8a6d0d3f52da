"""Server mode: many lookups in one process share the store's L2 workers. The time a
call waits for a free worker is the process's queue, not the table's: only the call
itself is judged slow, and a call the budget cut while the table answered in time is
the cache's own limit (`busy`, in L2's `queue`), never an error nor held against the
breaker (the outside review's case, with a table answering every call in 40 ms and no
CPU of its own); nor is a call this process's CPU stretched."""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

import pytest

from cache import CircuitBreaker, DynamoDBStore, ErrorKind, TieredCache
from tests.conftest import run_together

TABLE_SECONDS = 0.04  # under the 0.1 s slow-call threshold


class HealthyTable:
    """A DynamoDB client answering every call correctly in 40 ms."""

    class meta:
        region_name = "us-east-1"

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}

    seconds = TABLE_SECONDS

    def get_item(self, TableName: str, Key: dict) -> dict:
        time.sleep(self.seconds)
        item = self.items.get(Key["cache_key"]["S"])
        return {"Item": item} if item else {}

    def put_item(self, TableName: str, Item: dict) -> dict:
        time.sleep(self.seconds)
        self.items[Item["cache_key"]["S"]] = Item
        return {}

    def batch_get_item(self, RequestItems: dict) -> dict:
        time.sleep(self.seconds)
        ((table, request),) = RequestItems.items()
        keys = [key["cache_key"]["S"] for key in request["Keys"]]
        return {"Responses": {table: [self.items[k] for k in keys if k in self.items]}}

    def batch_write_item(self, RequestItems: dict) -> dict:
        time.sleep(self.seconds)
        for request in next(iter(RequestItems.values())):
            item = request["PutRequest"]["Item"]
            self.items[item["cache_key"]["S"]] = item
        return {}


def concurrent_misses(workers: int, lookups: int) -> TieredCache:
    store = DynamoDBStore("t", HealthyTable(), workers=workers)
    cache = TieredCache("v1", store=store, ttl_seconds=60, l2_budget_seconds=0.3,
                        slow_call_seconds=0.1, breaker=CircuitBreaker(5, 10))  # fmt: skip
    start = threading.Barrier(lookups)

    def one(i: int) -> None:
        start.wait()
        (lookup,) = cache.get_or_compute_many([f"k{i}"], lambda keys: [1.0] * len(keys))
        assert lookup.value == 1.0

    threads = [threading.Thread(target=one, args=(i,)) for i in range(lookups)]
    # No garbage collection meanwhile: a full pass over the test session's heap (~0.1 s
    # and more, holding the GIL) stretches every call in flight past the slow threshold
    # and opens the breaker (seen once in CI: 34 `slow`); a served app's heap is a
    # fraction of it. What is measured here is the queue, not the process's pauses.
    gc.disable()
    try:
        run_together(threads)
    finally:
        gc.enable()
    return cache


@pytest.mark.parametrize("workers", [4, 16])
def test_waiting_for_a_worker_is_not_the_tables_time(workers: int) -> None:
    """40 concurrent misses on fewer workers than lookups: they queue, the breaker stays
    closed, and a call that found no worker (or too little budget) within it is the
    queue's, not a table timeout. (A call's own time can still be stretched by 40 threads sharing
    two cores: an occasional `slow` is this process's CPU, which no timer can tell from
    the table's.)"""
    cache = concurrent_misses(workers, 40)
    errors = cache.stats.snapshot()["l2"]["errors"]
    assert cache.breaker.state == "closed" and cache.breaker.opened == 0, errors
    assert ErrorKind.TIMEOUT not in errors, errors


def test_a_servers_pool_serves_forty_misses_without_an_error() -> None:
    from service.predictions import L2_WORKERS

    cache = concurrent_misses(L2_WORKERS["server"], 40)
    assert cache.stats.snapshot()["l2"]["errors"] == {}
    assert cache.breaker.state == "closed"


@pytest.mark.parametrize(("cpu_bound", "judged"), [(False, "slow"), (True, None)])
def test_a_slow_answer_while_the_process_ran_at_its_cpu_limit_is_not_the_tables(
    cpu_bound: bool, judged: str | None
) -> None:
    """The same 150 ms answer: `slow` from an idle process; not judged from one whose CPU
    clock ran as fast as the wall clock meanwhile (its threads wait their turn to read)."""
    table = HealthyTable()
    table.seconds = 0.15
    cache = TieredCache("v1", store=DynamoDBStore("t", table, workers=4), ttl_seconds=60,
                        l2_budget_seconds=0.3, slow_call_seconds=0.1,
                        cpu_clock=time.perf_counter if cpu_bound else lambda: 0.0)  # fmt: skip
    cache.get_or_compute_many(["k"], lambda keys: [1.0] * len(keys))
    stats = cache.stats.snapshot()["l2"]
    assert stats["errors"].get("slow") == (1 if judged else None), stats
    assert stats["queue"]["cpu_bound_slow"] == (1 if cpu_bound else 0)


def test_a_hung_table_is_blamed_even_while_the_process_runs_at_its_cpu_limit() -> None:
    """No `slow` from a CPU-bound process, but an attempt out past a whole budget is the
    table's: the second lookup finds the worker still held by the first's hung call."""
    table = HealthyTable()
    table.seconds = 2.0  # hung, for the budget's purposes
    cache = TieredCache("v1", store=DynamoDBStore("t", table, workers=1), ttl_seconds=60,
                        l2_budget_seconds=0.3, slow_call_seconds=0.1,
                        cpu_clock=time.perf_counter)  # fmt: skip
    for key in ("a", "b"):
        cache.get_or_compute_many([key], lambda keys: [1.0] * len(keys))
    assert cache.stats.snapshot()["l2"]["errors"].get("timeout", 0) >= 1
