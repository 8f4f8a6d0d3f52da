"""The protocol a shared (L2) store implements; one module per backend.

Methods raise `cache.errors.StoreError` on failure, never anything else.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cache.record import CacheRecord

_noted = threading.local()


@dataclass
class CallTimes:
    """The table's own time in a store's calls, attempt by attempt: each attempt that
    ended (answered, or failed on the wire), from the moment its request was sent, and
    each still out when the deadline came (how long it had been out); apart, how long
    each call waited for a worker of this process (the cache's own queue, never the
    table's), and `held`: the longest any of the store's attempts had been out then,
    this call's or one abandoned earlier that still holds its worker."""

    ended: list[float] = field(default_factory=list)
    out: list[float] = field(default_factory=list)
    waited: list[float] = field(default_factory=list)
    held: float = 0.0

    @property
    def fastest(self) -> float:
        """The quickest attempt that ended (infinite if none did). The chunks of a batch
        go to one table at once: a degraded table slows them all, while this process's
        own CPU (threads sharing cores, waiting to read their answers) stretches some."""
        return min(self.ended, default=math.inf)


def note_calls(times: CallTimes) -> None:
    """A store that sends its calls from worker threads notes, on the calling thread,
    what they cost the table (the reader judges the table by it)."""
    held = getattr(_noted, "times", None)
    if held is None:
        _noted.times = times
        return
    held.ended += times.ended
    held.out += times.out
    held.waited += times.waited
    held.held = max(held.held, times.held)


def take_calls() -> CallTimes:
    """What this thread's store calls noted since it last asked."""
    times = getattr(_noted, "times", None) or CallTimes()
    _noted.times = None
    return times


@dataclass
class BatchRead:
    """Records found, plus keys the store did not read in the retries or the time it was
    allowed; `late` of them the deadline left undone (never sent: no worker was free, or
    their call still out)."""

    records: dict[str, CacheRecord] = field(default_factory=dict)
    unprocessed: list[str] = field(default_factory=list)
    calls: int = 0
    late: int = 0


@dataclass
class BatchWrite:
    """Items written, items the store left unprocessed (`late` of them left by the
    deadline, as in `BatchRead`), calls made, and the size in bytes of each written item
    (what a bill is computed from)."""

    written: int = 0
    unprocessed: int = 0
    calls: int = 0
    item_bytes: list[int] = field(default_factory=list)
    late: int = 0


class RecordStore(Protocol):
    """A shared cache store.

    `timeout` (seconds) bounds a call as a whole, retries and unprocessed rounds
    included, whatever the backend does: past it a single call raises
    `StoreError(CUT)` and a batch returns what it finished, the rest unprocessed and
    counted in `late`. None waits as long as the backend's own timeouts allow
    (operator tools).
    """

    def get(self, key: str, *, timeout: float | None = None) -> CacheRecord | None: ...

    def get_many(self, keys: Sequence[str], *, timeout: float | None = None) -> BatchRead: ...

    def put(self, key: str, record: CacheRecord, *, timeout: float | None = None) -> None: ...

    def put_many(
        self, records: Mapping[str, CacheRecord], *, timeout: float | None = None
    ) -> BatchWrite: ...

    def delete(self, key: str) -> bool:
        """Remove `key`'s record; False if there was none."""
        ...

    def claim(
        self,
        key: str,
        expires_at: float,
        until: float,
        now: float,
        *,
        timeout: float | None = None,
    ) -> bool:
        """Lease `key`'s record (the one expiring at `expires_at`) for refreshing until
        `until`; False if another reader holds a live lease or the record changed."""
        ...
