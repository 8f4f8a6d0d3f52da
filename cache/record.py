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

    def is_expired(self, now: float) -> bool:
        return now >= self.expires_at

    def is_usable(self, version: str, schema: int, now: float) -> bool:
        """Decodable, written for this version and shape, and not yet expired."""
        return (
            not self.corrupt
            and self.version == version
            and self.schema == schema
            and not self.is_expired(now)
        )


CORRUPT = CacheRecord(value=None, version="", created_at=0, expires_at=0, corrupt=True)
