"""The read path: L1 memory, then the shared store (L2), then the compute function.

    L1 hit                      → HIT-L1
    L2 hit (usable record)      → fill L1, HIT-L2
    otherwise                   → compute once (single-flight), fill L1 and L2, MISS

A failing L2 never fails a lookup: its errors are counted, a circuit breaker
skips it for a cool-down after repeated failures, and the value is computed.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from cache.base import RecordStore, StoreError
from cache.breaker import CircuitBreaker
from cache.memory import MemoryStore
from cache.record import CacheRecord
from cache.singleflight import SingleFlight
from cache.stats import CacheStats

log = logging.getLogger("predcache.cache")

ComputeMany = Callable[[list[str]], Sequence[Any]]
T = TypeVar("T")


class Outcome(StrEnum):
    HIT_L1 = "HIT-L1"
    HIT_L2 = "HIT-L2"
    MISS = "MISS"


@dataclass(frozen=True, slots=True)
class Lookup:
    value: Any
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Pending:
    """A lookup after L1: what was found, and the unique keys still to resolve."""

    keys: list[str]
    found: dict[str, Lookup]
    remaining: list[str]

    @property
    def complete(self) -> bool:
        return not self.remaining


class TieredCache:
    """Values by key through L1 → L2 → compute, for one `version` of what computes them.

    `memory` and `store` are optional: neither is cache mode `off`, memory alone
    is `memory`, both is `tiered`. `clock` gives epoch seconds for L2 lifetimes.
    """

    def __init__(
        self,
        version: str,
        *,
        memory: MemoryStore | None = None,
        store: RecordStore | None = None,
        ttl_seconds: int = 86_400,
        breaker: CircuitBreaker | None = None,
        stats: CacheStats | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.version = version
        self.memory = memory
        self.store = store
        self.ttl_seconds = ttl_seconds
        self.breaker = breaker or CircuitBreaker()
        self.stats = stats or CacheStats()
        self._clock = clock
        self._flight = SingleFlight()

    def get_or_compute(self, key: str, compute: Callable[[], Any]) -> Lookup:
        """One value: `compute()` runs only on a miss in every tier."""
        return self.get_or_compute_many([key], lambda _keys: [compute()])[0]

    def get_or_compute_many(self, keys: Sequence[str], compute_many: ComputeMany) -> list[Lookup]:
        """Values for `keys` in order; `compute_many(missing_keys)` runs at most once.

        Duplicate keys are looked up once; L2 is read with one batched call.
        """
        return self.resolve(self.lookup_memory(keys), compute_many)

    def lookup_memory(self, keys: Sequence[str]) -> Pending:
        """The L1 step alone: microseconds, never blocks.

        An async caller can answer a `complete` result on its event loop and send
        only the rest to `resolve` in a worker thread (L2 and compute block).
        """
        keys = list(keys)
        unique = list(dict.fromkeys(keys))
        found: dict[str, Lookup] = {}
        if self.memory is None:
            return Pending(keys, found, unique)
        started = time.perf_counter()
        remaining = []
        for key in unique:
            value = self.memory.get(key)
            if value is None:
                remaining.append(key)
            else:
                found[key] = Lookup(value, Outcome.HIT_L1)
        self.stats.l1.observe(time.perf_counter() - started)
        self.stats.l1.hit(len(unique) - len(remaining))
        self.stats.l1.miss(len(remaining))
        return Pending(keys, found, remaining)

    def resolve(self, pending: Pending, compute_many: ComputeMany) -> list[Lookup]:
        """Finish a lookup: L2 for the keys L1 lacked, then one compute for the rest."""
        remaining = pending.remaining
        if remaining:
            remaining = self._from_store(remaining, pending.found)
        if remaining:
            self._compute(remaining, compute_many, pending.found)
        results = [pending.found[key] for key in pending.keys]
        self.stats.count_outcomes(Counter(result.outcome.value for result in results))
        return results

    def _l2_allowed(self, n: int) -> bool:
        if self.store is None:
            return False
        if not self.breaker.allow():
            self.stats.l2.error("circuit_open", n)
            return False
        return True

    def _l2_call(self, operation: str, call: Callable[[], T]) -> T | None:
        """One timed L2 call: None when it failed, after counting, logging, tripping."""
        started = time.perf_counter()
        try:
            result = call()
        except StoreError as exc:
            self.stats.l2.error(exc.kind)
            self.breaker.failure()
            log.warning(
                "l2 %s failed: %s", operation, exc, extra={"tier": "l2", "error_kind": exc.kind}
            )
            return None
        finally:
            self.stats.l2.observe(time.perf_counter() - started)
        self.breaker.success()
        return result

    def _read(self, keys: list[str]) -> dict[str, CacheRecord]:
        if len(keys) == 1:
            record = self.store.get(keys[0])
            return {keys[0]: record} if record is not None else {}
        batch = self.store.get_many(keys)
        if batch.unprocessed:
            self.stats.l2.error("unprocessed", len(batch.unprocessed))
        return batch.records

    def _write(self, records: dict[str, CacheRecord]) -> None:
        if len(records) == 1:
            self.store.put(*next(iter(records.items())))
            return
        batch = self.store.put_many(records)
        if batch.unprocessed:
            self.stats.l2.error("unprocessed_write", batch.unprocessed)

    def _from_store(self, keys: list[str], found: dict[str, Lookup]) -> list[str]:
        if not self._l2_allowed(len(keys)):
            return keys
        records = self._l2_call("read", lambda: self._read(keys))
        if records is None:
            return keys
        now = self._clock()
        pending = []
        for key in keys:
            record = records.get(key)
            if record is not None and record.corrupt:
                self.stats.l2.error("corrupt")
            if record is not None and record.is_usable(self.version, now):
                if self.memory is not None:
                    self.memory.put(key, record.value)
                found[key] = Lookup(record.value, Outcome.HIT_L2)
            else:
                pending.append(key)
        self.stats.l2.hit(len(keys) - len(pending))
        self.stats.l2.miss(len(pending))
        return pending

    def _timed_compute(self, compute_many: ComputeMany) -> ComputeMany:
        def run(keys: list[str]) -> Sequence[Any]:
            started = time.perf_counter()
            try:
                return compute_many(keys)
            finally:
                self.stats.model.observe(time.perf_counter() - started)
                self.stats.model.miss(len(keys))

        return run

    def _compute(self, keys: list[str], compute_many: ComputeMany, found: dict) -> None:
        if self.memory is None and self.store is None:
            values = dict(zip(keys, self._timed_compute(compute_many)(keys), strict=True))
            shared: set[str] = set()
        else:
            values, shared = self._flight.run_many(keys, self._timed_compute(compute_many))
        for key in keys:
            found[key] = Lookup(values[key], Outcome.MISS)
        mine = {key: values[key] for key in keys if key not in shared}
        if mine:
            self._fill(mine)

    def _fill(self, values: dict[str, Any]) -> None:
        if self.memory is not None:
            for key, value in values.items():
                self.memory.put(key, value)
        if not self._l2_allowed(len(values)):
            return
        now = int(self._clock())
        records = {
            key: CacheRecord(value, self.version, now, now + self.ttl_seconds)
            for key, value in values.items()
        }
        self._l2_call("write", lambda: self._write(records))
