"""Where an answer came from: the names clients see (`X-Cache`, `cache`) and their
snake_case spelling in counters and reports, and what became of an early refresh,
defined once."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    HIT_L1 = "HIT-L1"
    HIT_L2 = "HIT-L2"
    MISS = "MISS"

    @property
    def field(self) -> str:
        """`hit_l1`, `hit_l2`, `miss`: the name in JSON counters and report columns."""
        return self.name.lower()


class Refresh(StrEnum):
    """What an early refresh of a hit did; counted apart from hits and misses."""

    REFRESHED = "refreshed"  # recomputed and stored: the answer is the new value
    LOST = "refresh_lost"  # another reader holds the lease: the cached value answers
    FAILED = "refresh_failed"  # the recompute failed: the cached value answers
