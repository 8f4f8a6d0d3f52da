"""A two-tier cache for computed values: in-process TTL memory, then a shared store.

Knows nothing about flights or HTTP: callers hand it keys (`make_key`) and a
function that computes the values of the keys no tier holds.
"""

from cache.base import BatchRead, BatchWrite, RecordStore, StoreError
from cache.breaker import CircuitBreaker
from cache.dynamodb import DynamoDBStore, create_table, make_client, worst_call_seconds
from cache.keys import canonical, make_key
from cache.memory import MemoryStore
from cache.record import CacheRecord
from cache.refresh import EarlyRefresh
from cache.stats import CacheStats, TierStats
from cache.tiered import ComputeMany, Lookup, Outcome, Pending, TieredCache, WarmResult

__all__ = [
    "BatchRead",
    "BatchWrite",
    "CacheRecord",
    "CacheStats",
    "CircuitBreaker",
    "ComputeMany",
    "DynamoDBStore",
    "EarlyRefresh",
    "Lookup",
    "MemoryStore",
    "Outcome",
    "Pending",
    "RecordStore",
    "StoreError",
    "TierStats",
    "TieredCache",
    "WarmResult",
    "canonical",
    "create_table",
    "make_client",
    "make_key",
    "worst_call_seconds",
]
