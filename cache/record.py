"""The unit both tiers hold: a value stamped with its version, shape and lifetime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CacheRecord:
    """A cached value. `corrupt` marks an item that could not be decoded.

    `version` is the model version that computed it and `schema` the version of the
    value's shape: a release that changes the shape bumps it and never reads the old
    one. `compute_ms` is what computing it cost, which early refresh weighs.
    Stores such as DynamoDB delete expired items late (hours to days) or never
    (moto), so readers must ask `is_usable` rather than trust presence.
    """

    value: Any
    version: str
    created_at: float
    expires_at: float
    schema: int = 0
    compute_ms: float = 0.0
    corrupt: bool = False

    def expiry(self, max_age: float | None = None) -> float:
        """When the record stops being usable: its stored expiry, or `max_age` seconds
        after it was computed if that comes first (a record written under a longer TTL,
        by an earlier deployment or the warmer, lives no longer than the reader's)."""
        if max_age is None:
            return self.expires_at
        return min(self.expires_at, self.created_at + max_age)

    def is_expired(self, now: float, max_age: float | None = None) -> bool:
        return now >= self.expiry(max_age)

    def is_usable(
        self, version: str, schema: int, now: float, max_age: float | None = None
    ) -> bool:
        """Decodable, written for this version and shape, and not yet expired."""
        return (
            not self.corrupt
            and self.version == version
            and self.schema == schema
            and not self.is_expired(now, max_age)
        )


CORRUPT = CacheRecord(value=None, version="", created_at=0, expires_at=0, corrupt=True)
