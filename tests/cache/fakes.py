"""An in-memory `RecordStore` that keeps the protocol's promises, so the contract suite
shows what any backend must do, and tests of the read path can run without moto."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import orjson

from cache.base import BatchRead, BatchWrite
from cache.record import CacheRecord


class DictStore:
    def __init__(self) -> None:
        self._records: dict[str, CacheRecord] = {}
        self._leases: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, key: str, *, timeout: float | None = None) -> CacheRecord | None:
        with self._lock:
            return self._records.get(key)

    def get_many(self, keys: Sequence[str], *, timeout: float | None = None) -> BatchRead:
        with self._lock:
            found = {k: self._records[k] for k in dict.fromkeys(keys) if k in self._records}
        return BatchRead(records=found, calls=1)

    def put(self, key: str, record: CacheRecord, *, timeout: float | None = None) -> None:
        with self._lock:
            self._records[key] = record
            self._leases.pop(key, None)

    def put_many(
        self, records: Mapping[str, CacheRecord], *, timeout: float | None = None
    ) -> BatchWrite:
        for key, record in records.items():
            self.put(key, record)
        sizes = [len(orjson.dumps(r.value)) + len(k) for k, r in records.items()]
        return BatchWrite(written=len(records), calls=1, item_bytes=sizes)

    def claim(
        self, key: str, expires_at: float, until: float, now: float, *, timeout: float | None = None
    ) -> bool:
        with self._lock:
            record = self._records.get(key)
            if record is None or int(record.expires_at) != int(expires_at):
                return False
            if self._leases.get(key, 0.0) >= now:
                return False
            self._leases[key] = until
            return True

    def delete(self, key: str) -> bool:
        with self._lock:
            self._leases.pop(key, None)
            return self._records.pop(key, None) is not None
