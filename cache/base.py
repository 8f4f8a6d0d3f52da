"""The protocol a shared (L2) store implements; one module per backend.

Methods raise `cache.errors.StoreError` on failure, never anything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cache.record import CacheRecord


@dataclass
class BatchRead:
    """Records found, plus keys the store did not process in the retries it was allowed."""

    records: dict[str, CacheRecord] = field(default_factory=dict)
    unprocessed: list[str] = field(default_factory=list)
    calls: int = 0


@dataclass
class BatchWrite:
    """Items written, items the store left unprocessed, calls made, and the size in
    bytes of each written item (what a bill is computed from)."""

    written: int = 0
    unprocessed: int = 0
    calls: int = 0
    item_bytes: list[int] = field(default_factory=list)


class RecordStore(Protocol):
    """A shared cache store."""

    def get(self, key: str) -> CacheRecord | None: ...

    def get_many(self, keys: Sequence[str]) -> BatchRead: ...

    def put(self, key: str, record: CacheRecord) -> None: ...

    def put_many(self, records: Mapping[str, CacheRecord]) -> BatchWrite: ...

    def delete(self, key: str) -> bool:
        """Remove `key`'s record; False if there was none."""
        ...

    def claim(self, key: str, expires_at: float, until: float, now: float) -> bool:
        """Lease `key`'s record (the one expiring at `expires_at`) for refreshing until
        `until`; False if another reader holds a live lease or the record changed."""
        ...
