"""Counters and latency per tier since process start, safe to update from any thread."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from typing import Any

from cache.outcome import Refresh

_WINDOW = 4096  # latency samples kept per tier for percentiles


def percentile(ordered: list[float], q: float) -> float:
    """The `q` quantile (0..1) of values already sorted: nearest rank, no interpolation."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms_percentiles(ordered: list[float], prefix: str) -> dict[str, float]:
    """p50 and p99 in milliseconds of sorted seconds, as `/stats` names them."""
    return {f"{prefix}p{q}_ms": round(1000 * percentile(ordered, q / 100), 3) for q in (50, 99)}


def median(values: Iterable[float]) -> float:
    """The p50 by `percentile`'s rule: what `/stats`, the benches and the simulation report."""
    return percentile(sorted(values), 0.5)


class TierStats:
    """Hits, misses, errors by kind, and latency of one tier."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.errors: Counter[str] = Counter()
        self.calls = 0
        self._total_seconds = 0.0
        self._recent: deque[float] = deque(maxlen=_WINDOW)

    def hit(self, n: int = 1) -> None:
        with self._lock:
            self.hits += n

    def miss(self, n: int = 1) -> None:
        with self._lock:
            self.misses += n

    def error(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.errors[kind] += n

    def observe(self, seconds: float, hits: int = 0, misses: int = 0) -> None:
        """One call to the tier took `seconds` (and found `hits`, lacked `misses`)."""
        with self._lock:
            self.calls += 1
            self._total_seconds += seconds
            self._recent.append(seconds)
            self.hits += hits
            self.misses += misses

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            ordered = sorted(self._recent)
            lookups = self.hits + self.misses
            latency = {"calls": self.calls}
            if ordered:
                latency |= {"mean_ms": round(1000 * self._total_seconds / self.calls, 3)}
                latency |= _ms_percentiles(ordered, "")
            return {
                "hits": self.hits,
                "misses": self.misses,
                "hit_rate": round(self.hits / lookups, 4) if lookups else None,
                "errors": dict(self.errors),
                "latency": latency,
            }


class QueueStats:
    """The cache's own limit on L2 work, apart from the table's errors: how long calls
    waited for a worker of this process, the L2 calls (and their items) a lookup's
    budget cut short while the table answered in time, the calls answered slowly while
    the process ran at its CPU limit, and the writes those lookups then skipped (none
    held against the table)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waits: deque[float] = deque(maxlen=_WINDOW)
        self.waits = 0
        self.cut_calls = 0
        self.cut_items = 0
        self.stretched_calls = 0
        self.skipped_writes = 0

    def waited(self, seconds: Iterable[float]) -> None:
        with self._lock:
            for wait in seconds:
                self.waits += 1
                self._waits.append(wait)

    def cut(self, items: int) -> None:
        with self._lock:
            self.cut_calls += 1
            self.cut_items += items

    def stretched(self) -> None:
        """A call answered slowly while the process ran at its CPU limit: not judged."""
        with self._lock:
            self.stretched_calls += 1

    def skipped_write(self) -> None:
        """A lookup past its own limit made no write."""
        with self._lock:
            self.skipped_writes += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            ordered = sorted(self._waits)
            view: dict[str, Any] = {"waits": self.waits}
            if ordered:
                view |= _ms_percentiles(ordered, "wait_")
            return view | {
                "cut_by_budget": self.cut_calls,
                "items_cut": self.cut_items,
                "cpu_bound_slow": self.stretched_calls,
                "writes_skipped": self.skipped_writes,
            }


class CacheStats:
    """One `TierStats` per tier (l1, l2) plus the model behind them, and L2's queue."""

    def __init__(self) -> None:
        self.l1 = TierStats()
        self.l2 = TierStats()
        self.l2_queue = QueueStats()
        self.model = TierStats()
        self._lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()
        self.refreshes: Counter[str] = Counter()

    def count(self, outcomes: Mapping[str, int], refreshes: Mapping[str, int]) -> None:
        """One lookup's outcomes, and its early refreshes by what they did
        (`cache.outcome.Refresh`), apart from hits."""
        with self._lock:
            self.outcomes.update(outcomes)
            if refreshes:
                self.refreshes.update(refreshes)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            outcomes = dict(self.outcomes)
            refreshes = {kind.value: self.refreshes[kind.value] for kind in Refresh}
        return {
            "outcomes": outcomes,
            "refresh": refreshes,
            "l1": self.l1.snapshot(),
            "l2": self.l2.snapshot() | {"queue": self.l2_queue.snapshot()},
            "model": _model_view(self.model.snapshot()),
        }


def _model_view(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The compute tier has no hits: show rows computed and call latency."""
    return {
        "rows": snapshot["misses"],
        "errors": snapshot["errors"],
        "latency": snapshot["latency"],
    }
