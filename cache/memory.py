"""L1: a bounded, thread-safe in-process TTL cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from cachetools import TTLCache

# What one L1 entry (key, record, TTLCache links) costs a process: RSS grew 804 bytes an
# entry while 100,000 flight-delay records were put into a MemoryStore (2026-12-01, the
# project's 2-core machine, Python 3.11; the issue's own figure was ~730).
ENTRY_BYTES = 800


def wall_clock() -> float:
    """Epoch seconds, looked up on each call (so a test can move time itself)."""
    return time.time()


class MemoryStore:
    """cachetools' `TTLCache` behind a lock (it is not thread-safe on its own).

    `timer` is the clock expiry is measured on; tests pass a fake one instead of
    sleeping. The default is the wall clock, not a monotonic one: a SnapStart snapshot
    freezes a process, and an entry's life must count the time it spent frozen (the
    wall clock is right again after a restore; a monotonic clock's meaning is not).
    """

    def __init__(self, maxsize: int, ttl: float, timer: Callable[[], float] = wall_clock) -> None:
        self._cache: TTLCache[str, Any] = TTLCache(maxsize=maxsize, ttl=ttl, timer=timer)
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            return self._cache.get(key)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._cache[key] = value

    def items(self) -> list[tuple[str, Any]]:
        """A copy of what the tier holds now (unexpired entries), safe to iterate."""
        with self._lock:
            return list(self._cache.items())

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    @property
    def maxsize(self) -> int:
        return int(self._cache.maxsize)
