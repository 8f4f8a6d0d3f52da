"""The read path: L1 memory, then the shared store (L2), then the compute function.

    L1 hit                      → HIT-L1
    L2 hit (usable record)      → fill L1, HIT-L2
    otherwise                   → compute once (single-flight), fill L1 and L2, MISS

A record is usable when it is of this version and value shape, not expired, and
its value passes `validate`; anything else is a miss (a bad value is counted as
`corrupt`, recomputed and overwritten). A failing L2 never fails a lookup: its
errors are counted, a circuit breaker skips it for a cool-down after repeated
failures, a lookup whose read failed does not write, and the value is computed.
All L2 work of one lookup (reads, the refresh lease, writes, their retries and
unprocessed rounds) shares one time budget: each call may use what is left of it,
work past it is skipped (a read not made is a miss, a write not made is
`write_skipped`), and the time spent computing does not draw on it. A call that is
slow (`slow_call_seconds`), throttled, cut by the budget or leaves items
unprocessed counts against the breaker as a failure does, so a degraded table is
skipped too. No answer is older than `ttl_seconds` when it is returned: hits are
judged again at the end of the lookup. A hit near its expiry may be refreshed early
(`EarlyRefresh`).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

from cache.base import CallTimes, RecordStore, take_calls
from cache.breaker import CircuitBreaker
from cache.errors import ErrorKind, StoreError
from cache.memory import MemoryStore
from cache.outcome import Outcome, Refresh
from cache.record import CacheRecord
from cache.refresh import EarlyRefresh
from cache.singleflight import SingleFlight
from cache.stats import CacheStats

log = logging.getLogger("predcache.cache")
# counted per item by `_left_over`, not once per call
_PER_ITEM = frozenset({ErrorKind.UNPROCESSED, ErrorKind.UNPROCESSED_WRITE})
# A process that used this share of its CPU capacity during an L2 call was CPU-bound
CPU_BOUND = 0.9

ComputeMany = Callable[[list[str]], Sequence[Any]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Lookup:
    record: CacheRecord
    outcome: Outcome
    refresh: Refresh | None = None  # what an early refresh of this hit did, if one was due

    @property
    def value(self) -> Any:
        return self.record.value


def tally(lookups: Sequence[Lookup]) -> tuple[dict[str, int], dict[str, int]]:
    """Outcomes, and early refreshes by what they did, counted (a Counter costs ~3 us,
    most of an L1 hit's own work: one lookup, the usual case, needs none)."""
    if len(lookups) == 1:
        (only,) = lookups
        return {only.outcome.value: 1}, ({only.refresh.value: 1} if only.refresh else {})
    outcomes = Counter(lookup.outcome.value for lookup in lookups)
    return outcomes, Counter(lookup.refresh.value for lookup in lookups if lookup.refresh)


@dataclass(slots=True)
class Pending:
    """A lookup after L1: what was found, and the unique keys still to resolve.

    `stale` holds hits due for early refresh (L2 may hold a fresher record than L1's):
    they are answered as they are unless this lookup wins the refresh.
    """

    keys: list[str]
    found: dict[str, Lookup]
    remaining: list[str]
    stale: dict[str, Lookup] = field(default_factory=dict)
    l2_failed: bool = False  # then this lookup does not write L2 either
    l2_busy: bool = False  # its budget ran out in this process's queue: no more L2 either
    l2_left: float = 0.0  # seconds of L2 time this lookup may still spend

    @property
    def skips_l2(self) -> bool:
        return self.l2_failed or self.l2_busy

    @property
    def complete(self) -> bool:
        return not self.remaining


@dataclass
class WarmResult:
    """What one `TieredCache.warm` call did with its keys."""

    fresh: int = 0  # already in L2 for this version and shape, with life left
    written: int = 0
    unprocessed: int = 0  # computed, but the store did not take them
    item_bytes: list[int] = field(default_factory=list)  # of each written item


class TieredCache:
    """Values by key through L1 → L2 → compute, for one `version` of what computes them.

    `memory` and `store` are optional: neither is cache mode `off`, memory alone
    is `memory`, both is `tiered`. `schema` versions the value's shape and
    `validate` checks a value read from either tier. `reserve_seconds` is the life a
    record must have left to be answered: an HTTP cache in front (API Gateway's, L0) may
    keep an answer that long, and no client may get it later than `ttl_seconds` after it
    was computed. `l2_budget_seconds` is the L2 time
    one lookup may spend in all; a call taking `slow_call_seconds` or more counts as a
    failure. `clock` gives epoch seconds for lifetimes, `timer` measures durations
    (tiers' latency, what a compute cost), `cpu_clock` this process's CPU seconds, of
    which it can use `cpu_capacity` a second (one core: the GIL; less on a small Lambda
    function): a call made while the process ran at that limit is not judged slow.
    """

    def __init__(
        self,
        version: str,
        *,
        schema: int = 1,
        validate: Callable[[Any], bool] | None = None,
        memory: MemoryStore | None = None,
        store: RecordStore | None = None,
        ttl_seconds: int = 86_400,
        reserve_seconds: float = 0.0,
        l2_budget_seconds: float = 0.3,
        slow_call_seconds: float = 0.1,
        breaker: CircuitBreaker | None = None,
        refresh: EarlyRefresh | None = None,
        stats: CacheStats | None = None,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.process_time,
        cpu_capacity: float = 1.0,
    ) -> None:
        self.version = version
        self.schema = schema
        self.validate = validate
        self._check_raised = False
        self.memory = memory
        self.store = store
        self.ttl_seconds = ttl_seconds
        self.reserve_seconds = reserve_seconds
        self.l2_budget_seconds = l2_budget_seconds
        self.slow_call_seconds = slow_call_seconds
        self.breaker = breaker or CircuitBreaker()
        self.refresh = refresh or EarlyRefresh(beta=0)
        self.stats = stats or CacheStats()
        self._clock = clock
        self._timer = timer
        self._cpu_clock = cpu_clock
        self.cpu_capacity = cpu_capacity
        self._flight = SingleFlight()

    def get_or_compute_many(self, keys: Sequence[str], compute_many: ComputeMany) -> list[Lookup]:
        """Values for `keys` in order; `compute_many(missing_keys)` runs at most once.

        Duplicate keys are looked up once; L2 is read with one batched call.
        """
        return self.resolve(self.lookup_memory(keys), compute_many)

    def ends(self, record: CacheRecord) -> float:
        """When `record` stops being answered: its expiry (at most `ttl_seconds` after it
        was computed) less `reserve_seconds`."""
        return record.expiry(self.ttl_seconds) - self.reserve_seconds

    def live(self, record: CacheRecord, now: float) -> bool:
        """Written for this version and shape, and still answered at `now` (usable
        `reserve_seconds` later)."""
        return record.is_usable(self.version, self.schema, now + self.reserve_seconds,
                                self.ttl_seconds)  # fmt: skip

    def _due(self, record: CacheRecord, now: float) -> bool:
        return self.refresh.due(record, now, self.ends(record))

    def _usable(self, record: CacheRecord, now: float) -> bool | None:
        """True if usable, False if absent/expired/other version, None if the value is bad."""
        if not self.live(record, now):
            return False
        if self.validate is not None and not self._valid(record.value):
            return None
        return True

    def _valid(self, value: Any) -> bool:
        """`validate`, where a check that raises says "not valid": the item is a miss,
        recomputed and overwritten, never a failed lookup (logged once per process)."""
        try:
            return bool(self.validate(value))
        except Exception as exc:
            if not self._check_raised:
                self._check_raised = True
                log.warning("value check raised: the item is treated as invalid",
                            extra={"error": f"{type(exc).__name__}: {exc}"})  # fmt: skip
            return False

    def lookup_memory(self, keys: Sequence[str]) -> Pending:
        """The L1 step alone: microseconds, never blocks.

        An async caller can answer a `complete` result on its event loop and send
        only the rest to `resolve` in a worker thread (L2 and compute block).
        """
        keys = list(keys)
        unique = list(dict.fromkeys(keys))
        pending = Pending(keys, {}, [])
        if self.memory is None:
            pending.remaining = unique
            return pending
        started = self._timer()
        now = self._clock()
        for key in unique:
            record = self.memory.get(key)
            usable = record is not None and self._usable(record, now)
            if usable is None:
                self.stats.l1.error(ErrorKind.CORRUPT)
            if not usable:
                pending.remaining.append(key)
            elif self._due(record, now):
                pending.stale[key] = Lookup(record, Outcome.HIT_L1)
                pending.remaining.append(key)
            else:
                pending.found[key] = Lookup(record, Outcome.HIT_L1)
        elapsed = self._timer() - started
        hits = len(pending.found) + len(pending.stale)  # a hit due for refresh is a hit
        self.stats.l1.observe(elapsed, hits, len(unique) - hits)
        return pending

    def resolve(self, pending: Pending, compute_many: ComputeMany) -> list[Lookup]:
        """Finish a lookup: L2 for the keys L1 lacked, then one compute for the rest."""
        pending.l2_left = self.l2_budget_seconds
        remaining = pending.remaining
        if remaining:
            remaining = self._from_store(pending)
        if pending.stale:
            remaining = self._claim_refreshes(remaining, pending)
        if remaining:
            self._compute(remaining, compute_many, pending)
        if pending.remaining:  # time was spent: the hits found before may have expired
            expired = self._expired_hits(pending)
            if expired:
                self._compute(expired, compute_many, pending)
        results = [pending.found[key] for key in pending.keys]
        self.stats.count(*tally(results))
        return results

    def _expired_hits(self, pending: Pending) -> list[str]:
        """Keys whose hit has expired by now, taken out of `found` to be computed."""
        now = self._clock()
        expired = [
            key
            for key, found in pending.found.items()
            if found.outcome is not Outcome.MISS and now >= self.ends(found.record)
        ]
        for key in expired:
            del pending.found[key]
            pending.stale.pop(key, None)
        return expired

    def _l2_call(
        self,
        pending: Pending,
        operation: str,
        call: Callable[[float], tuple[T, ErrorKind | None]],
        items: int,
    ) -> T | None:
        """One breaker-guarded L2 call within what is left of the lookup's budget: None
        when skipped or failed (counted, logged).

        `call(timeout)` returns its result and what degraded it (throttled, cut by the
        budget, items left unprocessed), if anything. The call's whole time is charged
        to the budget; the table is judged by its own calls' times alone (`_judged`).
        A degraded call's result is used but counts against the breaker, as any
        exception does (so a half-open probe never leaks its slot).
        """
        if pending.l2_left <= 0:
            self.stats.l2.error(ErrorKind.OVER_BUDGET, items)
            pending.l2_failed = True
            return None
        ticket = self.breaker.allow()
        if ticket is None:
            self.stats.l2.error(ErrorKind.CIRCUIT_OPEN, items)
            pending.l2_failed = True
            return None
        take_calls()  # from here on: the table calls this call sends
        started, cpu = self._timer(), self._cpu_clock()
        result: T | None = None
        try:
            result, trouble = call(pending.l2_left)
            failed = False
        except Exception as exc:
            trouble = exc.kind if isinstance(exc, StoreError) else ErrorKind.UNEXPECTED
            failed = True
        elapsed = self._timer() - started
        pending.l2_left -= elapsed
        cpu_bound = self._cpu_clock() - cpu >= CPU_BOUND * self.cpu_capacity * elapsed
        trouble = self._judged(trouble, take_calls(), items, cpu_bound)
        if trouble is ErrorKind.BUSY:
            self._own_limit(ticket, pending)
        elif trouble is None:
            self.breaker.success(ticket)
            pending.l2_busy |= pending.l2_left <= 0  # spent, the table answering in time
        else:
            if trouble not in _PER_ITEM:
                self.stats.l2.error(trouble)
            self.breaker.failure(ticket)
            pending.l2_failed |= failed or trouble is not ErrorKind.SLOW
            log.warning("l2 %s %s: %s", operation, "failed" if failed else "degraded", trouble,
                        extra={"tier": "l2", "error_kind": trouble})  # fmt: skip
        return None if failed else result

    def _judged(
        self, trouble: ErrorKind | None, times: CallTimes, items: int, cpu_bound: bool
    ) -> ErrorKind | None:
        """What the table is held to, by its own attempts' times (`CallTimes`): `slow`
        when even its quickest answer took `slow_call_seconds`; for a `cut` (the deadline
        came first), a `timeout` when, besides, an attempt of the store was out that long
        unanswered. When this process ran at its CPU limit meanwhile (`cpu_bound`) its
        threads wait their turn to read an answer, and that wait is timed with the
        table's: no `slow` then, and a `timeout` only past a whole L2 budget. A cut
        otherwise is the cache's own limit, `busy` (calls waiting for a worker, sent too
        late, or stretched by its CPU): counted in L2's `queue`, never an error and never
        held against the table."""
        for seconds in times.ended + times.out:  # a hung attempt: as long as it was out
            self.stats.l2.observe(seconds)
        self.stats.l2_queue.waited(times.waited)
        slow = self.slow_call_seconds
        if trouble is ErrorKind.CUT:
            # the table kept an attempt out that long: this call's, or one abandoned
            # earlier whose worker this call then waited for (a hung table holds them
            # all); a process at its CPU limit may be slow to read an answer, not a
            # whole budget slow
            limit = self.l2_budget_seconds if cpu_bound else slow
            if times.fastest >= limit and (times.held >= limit or times.fastest < math.inf):
                return ErrorKind.TIMEOUT
            self.stats.l2_queue.cut(items)
            return ErrorKind.BUSY
        if trouble is None and slow <= times.fastest < math.inf:
            if not cpu_bound:
                return ErrorKind.SLOW
            self.stats.l2_queue.stretched()
        return trouble

    def _own_limit(self, ticket: Any, pending: Pending) -> None:
        """The lookup's budget ran out in this process's own queue: no verdict on the
        table (a half-open probe's slot goes to the next call); the rest of the lookup
        skips L2."""
        pending.l2_busy = True
        self.breaker.release(ticket)

    def _read(self, keys: list[str], timeout: float) -> tuple[dict[str, CacheRecord], Any]:
        if len(keys) == 1:
            record = self.store.get(keys[0], timeout=timeout)
            return ({keys[0]: record} if record is not None else {}), None
        batch = self.store.get_many(keys, timeout=timeout)
        return batch.records, self._left_over(batch, ErrorKind.UNPROCESSED, len(batch.unprocessed))

    def _write(self, records: dict[str, CacheRecord], timeout: float) -> tuple[None, Any]:
        if len(records) == 1:
            self.store.put(*next(iter(records.items())), timeout=timeout)
            return None, None
        batch = self.store.put_many(records, timeout=timeout)
        return None, self._left_over(batch, ErrorKind.UNPROCESSED_WRITE, batch.unprocessed)

    def _left_over(self, batch: Any, kind: ErrorKind, unprocessed: int) -> ErrorKind | None:
        """Count the items the table answered as unprocessed (`kind`); the kind that
        degraded the batch, if any (one the deadline cut short is `cut`, which `_judged`
        holds against the table or not)."""
        left = unprocessed - batch.late
        if left:
            self.stats.l2.error(kind, left)
        if batch.late:
            return ErrorKind.CUT
        return kind if left else None

    def _from_store(self, pending: Pending) -> list[str]:
        keys = pending.remaining
        if self.store is None:
            return keys
        records = self._l2_call(pending, "read", partial(self._read, keys), len(keys))
        if records is None:
            return keys
        now = self._clock()
        left, hits = [], 0
        for key in keys:
            record = records.get(key)
            usable = record is not None and self._usable(record, now)
            if usable is None or (record is not None and record.corrupt):
                self.stats.l2.error(ErrorKind.CORRUPT)
            hits += bool(usable)
            stale = pending.stale.get(key)
            if usable and stale is not None and record.expires_at <= stale.record.expires_at:
                usable = False  # the same record L1 found due: refresh it
            if usable and stale is None and self._due(record, now):
                pending.stale[key] = Lookup(record, Outcome.HIT_L2)
                usable = False
            if usable:
                if self.memory is not None:
                    self.memory.put(key, record)
                pending.found[key] = Lookup(record, Outcome.HIT_L2)
            else:
                left.append(key)
        self.stats.l2.hit(hits)  # a usable record due for refresh is a hit too
        self.stats.l2.miss(len(keys) - hits)
        return left

    def _claim_refreshes(self, keys: list[str], pending: Pending) -> list[str]:
        """Keep the stale keys this lookup may refresh; answer the rest as the hits they are.

        With a shared store, one reader at a time refreshes a key: a conditional write
        leases it for a few compute times, so containers that find it due meanwhile keep
        serving the cached value instead of all recomputing it.
        """
        left = []
        now = self._clock()
        for key in keys:
            stale = pending.stale.get(key)
            if stale is not None and now >= self.ends(stale.record):
                del pending.stale[key]  # no usable value left: a plain miss
                stale = None
            if stale is None:
                left.append(key)
                continue
            won = self.store is None
            if self.store is not None and not pending.skips_l2:
                until = now + max(1.0, 3 * stale.record.compute_ms / 1000)
                won = bool(
                    self._l2_call(pending, "claim", partial(self._claim, key, stale, until, now), 1)
                )
            if won:
                left.append(key)
                continue
            del pending.stale[key]
            pending.found[key] = replace(stale, refresh=Refresh.LOST)
            if stale.outcome is Outcome.HIT_L2 and self.memory is not None:
                self.memory.put(key, stale.record)
        return left

    def _claim(
        self, key: str, stale: Lookup, until: float, now: float, timeout: float
    ) -> tuple[bool, None]:
        won = self.store.claim(key, stale.record.expires_at, until, now, timeout=timeout)
        return won, None

    def _compute(self, keys: list[str], compute_many: ComputeMany, pending: Pending) -> None:
        timings: list[float] = []

        def timed(claimed: list[str]) -> list[CacheRecord]:
            started = self._timer()
            try:
                values = compute_many(claimed)
            finally:
                timings.append(self._timer() - started)
                self.stats.model.observe(timings[-1])
                self.stats.model.miss(len(claimed))
            now = self._clock()
            return [self._record(value, now, timings[-1] * 1000) for value in values]

        try:
            if self.memory is None and self.store is None:
                records = dict(zip(keys, timed(keys), strict=True))
                shared: set[str] = set()
            else:
                records, shared = self._flight.run_many(keys, timed)
        except Exception:
            if any(key not in pending.stale for key in keys):
                raise  # a key with no usable value: the caller sees the error
            self._answer_stale(keys, pending)
            return
        for key in keys:
            refresh = Refresh.REFRESHED if key in pending.stale else None
            pending.found[key] = Lookup(records[key], Outcome.MISS, refresh)
        mine = {key: records[key] for key in keys if key not in shared}
        if mine:
            self._fill(mine, pending)

    def _answer_stale(self, keys: list[str], pending: Pending) -> None:
        """An early refresh is best effort: when its recompute fails, every key still
        has a usable value, and that value answers."""
        log.warning(
            "early refresh failed; answering the cached value",
            exc_info=True,
            extra={"keys": len(keys), "refresh": Refresh.FAILED.value},
        )
        for key in keys:
            pending.found[key] = replace(pending.stale[key], refresh=Refresh.FAILED)

    def warm(self, keys: Sequence[str], compute_many: ComputeMany, fresh_for: float) -> WarmResult:
        """Precompute `keys` into L2: one batched read, one compute, batched writes.

        Keys whose L2 record is usable for at least `fresh_for` more seconds are left
        alone, so a rerun writes only what is missing or near expiry. Store errors
        propagate (`StoreError`): a warmer backs off and retries, a request would not.
        """
        unique = list(dict.fromkeys(keys))
        found = self.store.get_many(unique).records
        later = self._clock() + fresh_for
        todo = [k for k in unique if not (k in found and self._usable(found[k], later))]
        result = WarmResult(fresh=len(unique) - len(todo))
        if not todo:
            return result
        started = self._timer()
        values = compute_many(todo)
        elapsed_ms = (self._timer() - started) * 1000
        now = self._clock()
        records = {k: self._record(v, now, elapsed_ms) for k, v in zip(todo, values, strict=True)}
        batch = self.store.put_many(records)
        result.written, result.unprocessed = batch.written, batch.unprocessed
        result.item_bytes = batch.item_bytes
        return result

    def _record(self, value: Any, now: float, compute_ms: float) -> CacheRecord:
        return CacheRecord(
            value, self.version, now, int(now) + self.ttl_seconds, self.schema, compute_ms
        )

    def _fill(self, records: dict[str, CacheRecord], pending: Pending) -> None:
        if self.memory is not None:
            for key, record in records.items():
                self.memory.put(key, record)
        if self.store is None:
            return
        # a table that just failed would likely fail again, and past the budget no
        # call is made: skip (the cache's own limit is no error of the table's)
        if pending.l2_busy:
            self.stats.l2_queue.skipped_write()
            return
        if pending.l2_failed or pending.l2_left <= 0:
            self.stats.l2.error(ErrorKind.WRITE_SKIPPED)
            return
        self._l2_call(pending, "write", partial(self._write, records), len(records))
