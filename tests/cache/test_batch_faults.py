"""Concurrent 1,000-item batches through the read path's pool, in Lambda mode (16
workers, one request at a time) and server mode (64 workers, six requests at once),
against a table that is healthy (40 ms a call), slow, throttling some calls, or hung:
real botocore clients over HTTP to `tests/batch_table.py`. Each case asserts the
breaker, the errors counted, and each request's wall time; a healthy table is never
blamed for this process's own queue (review-7's case)."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator

import pytest

from cache import CircuitBreaker, DynamoDBStore, TieredCache, make_client
from service.predictions import L2_WORKERS
from tests.batch_table import TableServer, table_server
from tests.conftest import run_together

BUDGET = 0.3  # the deployed L2_BUDGET_SECONDS and L2_SLOW_CALL_SECONDS
SLOW_CALL = 0.1
CALL_TIMEOUT = 1.0  # past the budget: only the budget bounds a hung call
SLACK = 0.25  # scheduling on a loaded machine, on top of the budget and the CPU spent
MODES = {  # workers, concurrent batches per round, rounds
    "lambda": (L2_WORKERS["inline"], 1, 6),
    "server": (L2_WORKERS["server"], 6, 3),
}
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def table() -> Iterator[TableServer]:
    with table_server() as server:
        yield server


def run(table: TableServer, mode: str) -> tuple[TieredCache, list[float]]:
    """`mode`'s rounds of concurrent 1,000-item batches of distinct misses; the cache
    and each request's wall time less the CPU its round spent (six batches at once keep
    this process's one GIL busy: ~300 botocore calls of ~1.5 ms of CPU each a round,
    which a slower machine stretches; what is left is the wait for the table)."""
    workers, concurrent, rounds = MODES[mode]
    client = make_client(CALL_TIMEOUT, 2, table.url, region="us-east-1",
                         credentials=CREDENTIALS, connections=workers)  # fmt: skip
    cache = TieredCache("v1", store=DynamoDBStore("t", client, workers=workers),
                        ttl_seconds=600, l2_budget_seconds=BUDGET, slow_call_seconds=SLOW_CALL,
                        breaker=CircuitBreaker(5, 60))  # fmt: skip
    walls: list[float] = []

    def batch(keys: list[str]) -> None:
        started = time.perf_counter()
        lookups = cache.get_or_compute_many(keys, lambda missing: [1.0] * len(missing))
        walls.append(time.perf_counter() - started)
        assert [lookup.value for lookup in lookups] == [1.0] * len(keys)

    # No garbage collection meanwhile: a pass over the test session's heap holds the GIL
    # ~0.1 s and more, stretching every call in flight past the slow threshold (as in
    # test_l2_workers.py); a served app's heap is a fraction of it.
    gc.disable()
    try:
        for r in range(rounds):
            cpu, done = time.process_time(), len(walls)
            run_together([threading.Thread(target=batch, args=([f"{mode}{r}-{c}-{i}" for i
                                                                 in range(1000)],))
                          for c in range(concurrent)])  # fmt: skip
            spent = time.process_time() - cpu
            walls[done:] = [wall - spent for wall in walls[done:]]
    finally:
        gc.enable()
    return cache, walls


@pytest.mark.parametrize("mode", MODES)
def test_a_healthy_table_is_never_blamed(table: TableServer, mode: str) -> None:
    table.fault()
    cache, walls = run(table, mode)
    stats = cache.stats.snapshot()["l2"]
    assert cache.breaker.opened == 0 and stats["errors"] == {}, stats
    assert max(walls) < BUDGET + SLACK, walls


def opened_after_five(cache: TieredCache, mode: str, *kinds: str) -> dict:
    """The breaker opened once, after its five failures of `kinds` (a server's
    concurrent calls, reads and writes, that failed together before it opened count
    too)."""
    stats = cache.stats.snapshot()["l2"]
    failures = sum(stats["errors"].get(kind, 0) for kind in kinds)
    assert cache.breaker.state == "open" and cache.breaker.opened == 1, stats
    assert 5 <= failures <= 4 + 2 * MODES[mode][1], stats
    assert stats["errors"]["circuit_open"] > 0
    return stats


@pytest.mark.parametrize("mode", MODES)
def test_a_slow_table_opens_the_breaker(table: TableServer, mode: str) -> None:
    table.fault(delay=0.15)  # within the budget, past the slow-call threshold
    cache, walls = run(table, mode)
    stats = opened_after_five(cache, mode, "slow", "timeout")  # a write the budget cut
    assert stats["errors"]["slow"] >= 1
    assert max(walls) < BUDGET + SLACK, walls


@pytest.mark.parametrize("mode", MODES)
def test_a_throttling_table_opens_the_breaker(table: TableServer, mode: str) -> None:
    table.fault(throttle_every=2)  # half the calls: botocore's one retry often throttled too
    cache, walls = run(table, mode)
    opened_after_five(cache, mode, "throttled")
    assert max(walls) < BUDGET + SLACK, walls


@pytest.mark.parametrize("mode", MODES)
def test_a_hung_table_opens_the_breaker_and_costs_each_request_one_budget(
    table: TableServer, mode: str
) -> None:
    table.fault(hang=True)
    cache, walls = run(table, mode)
    stats = opened_after_five(cache, mode, "timeout")
    assert stats["queue"]["cut_by_budget"] == 0  # the table's, not the queue's
    assert max(walls) < BUDGET + SLACK, walls
