"""Early refresh: probabilistic early expiration against cache stampedes.

Vattani, Chierichetti and Lowenstein, "Optimal Probabilistic Cache Stampede
Prevention" (VLDB 2015), XFetch: a read recomputes an entry before it expires when

    now - delta * beta * ln(U) >= expiry,   U ~ Uniform(0, 1]

where `delta` is what computing the entry cost. The chance rises as expiry nears
and is larger for entries that take longer to compute, so one reader (in
expectation) refreshes a hot entry just before it expires while every other
reader keeps getting the cached value; entries nobody reads are never refreshed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from cache.record import CacheRecord


@dataclass
class EarlyRefresh:
    """XFetch with weight `beta` (0 turns it off; > 1 refreshes earlier)."""

    beta: float = 1.0
    rng: Callable[[], float] = field(default=random.random, repr=False)

    def due(self, record: CacheRecord, now: float, expiry: float | None = None) -> bool:
        """Whether this read should recompute `record` now, before it expires (at
        `expiry`, the record's own expiry unless the reader's TTL ends it sooner)."""
        if self.beta <= 0 or record.compute_ms <= 0:
            return False
        delta = record.compute_ms / 1000
        draw = 1.0 - self.rng()  # in (0, 1]: log is finite
        expiry = record.expires_at if expiry is None else expiry
        return now - delta * self.beta * math.log(draw) >= expiry
