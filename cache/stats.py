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
                latency |= {
                    "mean_ms": round(1000 * self._total_seconds / self.calls, 3),
                    "p50_ms": round(1000 * percentile(ordered, 0.50), 3),
                    "p99_ms": round(1000 * percentile(ordered, 0.99), 3),
                }
            return {
                "hits": self.hits,
                "misses": self.misses,
                "hit_rate": round(self.hits / lookups, 4) if lookups else None,
                "errors": dict(self.errors),
                "latency": latency,
            }


class CacheStats:
    """One `TierStats` per tier (l1, l2) plus the model behind them."""

    def __init__(self) -> None:
        self.l1 = TierStats()
        self.l2 = TierStats()
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
            "l2": self.l2.snapshot(),
            "model": _model_view(self.model.snapshot()),
        }


def _model_view(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The compute tier has no hits: show rows computed and call latency."""
    return {
        "rows": snapshot["misses"],
        "errors": snapshot["errors"],
        "latency": snapshot["latency"],
    }
