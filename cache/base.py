"""The protocol a shared (L2) store implements; one module per backend.

Methods raise `cache.errors.StoreError` on failure, never anything else.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cache.record import CacheRecord

_queued = threading.local()


def note_wait(seconds: float) -> None:
    """A store that runs a call on one of its worker threads notes how long the call
    waited for a free one: this process's queue, not the table's time."""
    _queued.seconds = getattr(_queued, "seconds", 0.0) + seconds


def take_wait() -> float:
    """The seconds this thread's store calls waited for a worker since it last asked."""
    seconds = getattr(_queued, "seconds", 0.0)
    _queued.seconds = 0.0
    return seconds


@dataclass
class BatchRead:
    """Records found, plus keys the store did not process in the retries or the time
    it was allowed (`timed_out`: the deadline cut the batch short)."""

    records: dict[str, CacheRecord] = field(default_factory=dict)
    unprocessed: list[str] = field(default_factory=list)
    calls: int = 0
    timed_out: bool = False


@dataclass
class BatchWrite:
    """Items written, items the store left unprocessed, calls made, and the size in
    bytes of each written item (what a bill is computed from)."""

    written: int = 0
    unprocessed: int = 0
    calls: int = 0
    item_bytes: list[int] = field(default_factory=list)
    timed_out: bool = False


class RecordStore(Protocol):
    """A shared cache store.

    `timeout` (seconds) bounds a call as a whole, retries and unprocessed rounds
    included, whatever the backend does: past it a single call raises
    `StoreError(TIMEOUT)` and a batch returns what it finished, the rest unprocessed
    and `timed_out` set. None waits as long as the backend's own timeouts allow
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
