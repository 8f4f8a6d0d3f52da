"""A two-tier cache for computed values: in-process TTL memory, then a shared store.

Knows nothing about flights or HTTP: callers hand it keys (`make_key`) and a
function that computes the values of the keys no tier holds. This is what other
packages use; everything else stays in its module.
"""

from cache.base import RecordStore
from cache.breaker import CircuitBreaker
from cache.dynamodb import DynamoDBStore, make_client, worst_call_seconds
from cache.errors import ErrorKind, StoreError
from cache.keys import make_key
from cache.memory import MemoryStore
from cache.outcome import Outcome
from cache.record import CacheRecord
from cache.refresh import EarlyRefresh
from cache.tiered import ComputeMany, Lookup, TieredCache, tally

__all__ = [
    "CacheRecord",
    "CircuitBreaker",
    "ComputeMany",
    "DynamoDBStore",
    "EarlyRefresh",
    "ErrorKind",
    "Lookup",
    "MemoryStore",
    "Outcome",
    "RecordStore",
    "StoreError",
    "TieredCache",
    "make_client",
    "make_key",
    "tally",
    "worst_call_seconds",
]
