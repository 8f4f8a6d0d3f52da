"""L1 memory, the circuit breaker and single-flight, on injected clocks (no sleeping)."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from cache import CacheRecord, CircuitBreaker, MemoryStore
from cache.singleflight import SingleFlight
from tests.conftest import run_together


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_memory_expires_on_its_timer() -> None:
    clock = FakeClock()
    memory = MemoryStore(maxsize=10, ttl=300, timer=clock)
    memory.put("k", {"v": 1})
    clock.now += 299
    assert memory.get("k") == {"v": 1}
    clock.now += 1
    assert memory.get("k") is None


def test_memory_is_bounded() -> None:
    memory = MemoryStore(maxsize=100, ttl=300)
    for i in range(1_000):
        memory.put(str(i), i)
    assert len(memory) == 100
    assert memory.get("999") == 999


def test_memory_is_safe_under_concurrent_writers() -> None:
    """Eight threads evicting from one bounded TTLCache: without the store's lock,
    cachetools' linked lists break (KeyError inside `__setitem__` or `expire`)."""
    memory = MemoryStore(maxsize=50, ttl=300)
    errors: list[BaseException] = []
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible

    def writer(offset: int) -> None:
        try:
            for i in range(10_000):
                memory.put(f"{offset}-{i}", i)
                memory.get(f"{offset}-{i - 1}")
        except Exception as exc:  # a thread's error must fail the test, not just warn
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    try:
        run_together(threads)
    finally:
        sys.setswitchinterval(previous)
    assert errors == []
    assert len(memory) == 50


def test_record_knows_whether_it_is_usable() -> None:
    record = CacheRecord({"p": 0.5}, "v1", created_at=100, expires_at=200, schema=1)
    assert record.is_usable("v1", 1, now=199)
    assert not record.is_usable("v1", 1, now=200)
    assert not record.is_usable("v2", 1, now=150)
    assert not record.is_usable("v1", 2, now=150)  # another value shape


def test_breaker_opens_after_threshold_and_recovers_after_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, cooldown=10, timer=clock)
    for _ in range(2):
        breaker.failure(breaker.allow())
    assert breaker.state == "closed"
    breaker.failure(breaker.allow())
    assert breaker.state == "open"
    assert breaker.allow() is None
    clock.now += 10
    assert breaker.state == "half-open"
    probe = breaker.allow()
    assert probe is not None and probe.probe  # one probe
    assert breaker.allow() is None  # and only one
    breaker.failure(probe)
    assert breaker.state == "open"
    clock.now += 10
    breaker.success(breaker.allow())
    assert breaker.state == "closed"
    assert breaker.opened == 2


def test_only_the_probe_closes_the_breaker() -> None:
    """A slow call that started before the circuit opened neither closes nor re-trips it."""
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown=10, timer=clock)
    slow = breaker.allow()
    breaker.failure(breaker.allow())
    assert breaker.state == "open"
    breaker.success(slow)
    assert breaker.state == "open"
    clock.now += 10
    probe = breaker.allow()
    breaker.failure(slow)  # late news from the old period changes nothing
    assert breaker.state == "half-open"
    breaker.success(probe)
    assert breaker.state == "closed"


def test_late_news_from_before_an_opening_does_not_count_after_it_closes() -> None:
    """A call that started before the circuit opened and fails only after it closed
    again belongs to the old period: it is not one of the new period's failures."""
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=2, cooldown=10, timer=clock)
    stale = breaker.allow()  # a call to a slow table, still under way
    breaker.failure(breaker.allow())
    breaker.failure(breaker.allow())
    assert breaker.state == "open"
    clock.now += 10
    breaker.success(breaker.allow())  # the probe: closed again
    breaker.failure(stale)  # the old call finally fails
    breaker.failure(breaker.allow())  # one failure of the new period
    assert breaker.state == "closed"


def test_single_flight_runs_concurrent_identical_work_once() -> None:
    flight = SingleFlight()
    calls: list[list[str]] = []
    gate = threading.Event()

    def compute(keys: list[str]) -> list[str]:
        calls.append(keys)
        gate.wait(5)
        return [k.upper() for k in keys]

    results: list[dict] = []
    started = threading.Semaphore(0)

    def request() -> None:
        started.release()
        results.append(flight.run_many(["a"], compute)[0])

    threads = [threading.Thread(target=request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert started.acquire(timeout=10)
    time.sleep(0.1)  # the leader is held at the gate: everyone joins its call
    gate.set()
    for thread in threads:
        thread.join()
    assert calls == [["a"]]
    assert results == [{"a": "A"}] * 16


def test_single_flight_shares_errors_and_forgets_them() -> None:
    flight = SingleFlight()

    def boom(keys: list[str]) -> list[str]:
        raise RuntimeError("model down")

    with pytest.raises(RuntimeError):
        flight.run_many(["a"], boom)
    assert flight.run_many(["a"], lambda keys: ["ok"])[0] == {"a": "ok"}
