"""The unit a shared store holds: a value stamped with its version and lifetime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CacheRecord:
    """A cached value. `corrupt` marks an item that could not be decoded.

    Stores such as DynamoDB delete expired items late (hours to days) or never
    (moto), so readers must ask `is_usable` rather than trust presence.
    """

    value: Any
    version: str
    created_at: int
    expires_at: int
    corrupt: bool = False

    def is_expired(self, now: float) -> bool:
        return now >= self.expires_at

    def is_usable(self, version: str, now: float) -> bool:
        """Decodable, written for this version, and not yet expired."""
        return not self.corrupt and self.version == version and not self.is_expired(now)


CORRUPT = CacheRecord(value=None, version="", created_at=0, expires_at=0, corrupt=True)
