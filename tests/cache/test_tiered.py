"""The read path L1 → L2 → compute, with moto for L2 and a fake clock for lifetimes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from moto import mock_aws

from cache import CircuitBreaker, DynamoDBStore, MemoryStore, TieredCache, make_client
from cache.dynamodb import KEY_ATTR
from tests.cache.fakes import DictStore
from tests.conftest import TABLE
from tests.dynamo import Faults, moto_store, silent_endpoint


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Model:
    """Counts rows it is asked to compute."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, keys: list[str]) -> list[dict]:
        self.calls.append(list(keys))
        return [{"p": len(k) / 100} for k in keys]


@pytest.fixture
def store(aws_env: None) -> Iterator[DynamoDBStore]:
    with mock_aws():
        yield moto_store(TABLE)


def tiered(store, clock: Clock, version: str = "v1", **kwargs) -> TieredCache:
    memory = MemoryStore(100, 300, timer=clock)
    return TieredCache(version, memory=memory, store=store, clock=clock, **kwargs)


def test_miss_then_l1_then_l2_from_another_process(store: DynamoDBStore) -> None:
    clock, model = Clock(), Model()
    first = tiered(store, clock)
    assert first.get_or_compute_many(["key"], model)[0].outcome == "MISS"
    assert first.get_or_compute_many(["key"], model)[0].outcome == "HIT-L1"
    second = tiered(store, clock)  # a second container: empty L1, same table
    hit = second.get_or_compute_many(["key"], model)[0]
    assert hit.outcome == "HIT-L2"
    assert hit.value == {"p": 0.03}
    assert second.get_or_compute_many(["key"], model)[0].outcome == "HIT-L1"  # L2 filled L1
    assert model.calls == [["key"]]


def test_expired_l2_items_are_not_served(store: DynamoDBStore) -> None:
    clock, model = Clock(), Model()
    tiered(store, clock, ttl_seconds=60).get_or_compute_many(["key"], model)
    clock.now += 61  # moto, like DynamoDB for hours, still holds the item
    assert store.get("key") is not None
    lookup = tiered(store, clock, ttl_seconds=60).get_or_compute_many(["key"], model)[0]
    assert lookup.outcome == "MISS"
    assert len(model.calls) == 2
    assert store.get("key").expires_at == int(clock.now) + 60  # rewritten


@pytest.mark.parametrize("container", ["same", "fresh"])  # L1, then L2
def test_an_entry_is_answered_only_while_it_outlives_l0(store, container: str) -> None:
    """With an HTTP cache in front keeping answers for `reserve_seconds` (L0), an entry
    with less life left is recomputed: no client sees it past `ttl_seconds`."""
    clock, model = Clock(), Model()
    first = tiered(store, clock, ttl_seconds=600, reserve_seconds=300)
    first.get_or_compute_many(["key"], model)
    clock.now += 299  # 301 s left: L0 may keep it 300 s, within the promise
    again = (
        first if container == "same" else tiered(store, clock, ttl_seconds=600, reserve_seconds=300)
    )
    assert again.get_or_compute_many(["key"], model)[0].outcome != "MISS"
    clock.now += 2  # 299 s left: an L0 copy would outlive the entry
    again = (
        first if container == "same" else tiered(store, clock, ttl_seconds=600, reserve_seconds=300)
    )
    lookup = again.get_or_compute_many(["key"], model)[0]
    assert lookup.outcome == "MISS" and len(model.calls) == 2
    assert store.get("key").expires_at == int(clock.now) + 600  # rewritten, whole life
    without_l0 = tiered(store, clock, ttl_seconds=600)
    clock.now += 599 - 300
    assert without_l0.get_or_compute_many(["key"], model)[0].outcome == "HIT-L2"


def test_other_model_version_is_a_miss(store: DynamoDBStore) -> None:
    clock, model = Clock(), Model()
    tiered(store, clock, version="v1").get_or_compute_many(["key"], model)
    assert (
        tiered(store, clock, version="v2").get_or_compute_many(["key"], lambda _k: [1])[0].outcome
        == "MISS"
    )


def test_corrupt_item_is_a_miss_counted_and_overwritten(store: DynamoDBStore) -> None:
    clock, model = Clock(), Model()
    store.client.put_item(
        TableName=TABLE, Item={KEY_ATTR: {"S": "key"}, "value": {"S": "{garbage"}}
    )
    cache = tiered(store, clock)
    assert cache.get_or_compute_many(["key"], model)[0].outcome == "MISS"
    assert cache.stats.l2.errors["corrupt"] == 1
    stored = store.get("key")
    assert (stored.value, stored.version, stored.schema) == ({"p": 0.03}, "v1", 1)
    assert stored.expires_at == int(clock.now) + 86_400


def test_batch_lookup_mixes_tiers_and_computes_once(store: DynamoDBStore) -> None:
    clock, model = Clock(), Model()
    # what is asserted is which tier answers, not how fast: in-process moto's 150-key
    # reads on two shared cores can pass the deployed 0.3 s budget (then skipped as misses)
    roomy = {"l2_budget_seconds": 5.0}
    writer = tiered(store, clock, **roomy)
    writer.get_or_compute_many([f"l2-{i}" for i in range(150)], model)
    cache = tiered(store, clock, **roomy)
    cache.get_or_compute_many(["l1"], model)
    keys = ["l1", *[f"l2-{i}" for i in range(150)], "new-a", "new-b", "new-a"]
    results = cache.get_or_compute_many(keys, model)
    assert [r.outcome for r in results] == ["HIT-L1"] + ["HIT-L2"] * 150 + ["MISS"] * 3
    assert results[-1].value == results[-3].value
    assert model.calls[-1] == ["new-a", "new-b"]


def test_cache_off_and_memory_only() -> None:
    model = Model()
    off = TieredCache("v1")
    assert [off.get_or_compute_many(["k"], model)[0].outcome for _ in range(2)] == ["MISS"] * 2
    memory = TieredCache("v1", memory=MemoryStore(10, 60))
    outcomes = [memory.get_or_compute_many(["k"], model)[0].outcome for _ in range(2)]
    assert outcomes == ["MISS", "HIT-L1"]


def test_throttled_table_degrades_to_compute_and_opens_the_circuit(
    store: DynamoDBStore,
) -> None:
    clock = Clock()
    faults = Faults(store.client, "ProvisionedThroughputExceededException")
    breaker = CircuitBreaker(threshold=3, cooldown=30, timer=clock)
    cache = TieredCache("v1", store=store, clock=clock, breaker=breaker)
    for i in range(6):
        assert cache.get_or_compute_many([f"k{i}"], lambda _k: [{"p": 0.5}])[0].value == {"p": 0.5}
    assert breaker.state == "open"
    errors = cache.stats.l2.errors
    # reads and writes both throttled until the third failure opened the circuit
    assert errors["throttled"] == 3
    assert errors["circuit_open"] > 0
    attempts = faults.attempts
    cache.get_or_compute_many(["k9"], lambda _k: [{"p": 0.5}])[0]
    assert faults.attempts == attempts  # open circuit: the table is not called
    faults.active = False
    clock.now += 30
    assert cache.get_or_compute_many(["k10"], lambda _k: [{"p": 0.1}])[0].outcome == "MISS"
    assert breaker.state == "closed"
    assert store.get("k10") is not None  # L2 written again once recovered


def test_slow_table_is_cut_by_the_timeout(aws_env: None) -> None:
    """A table slower than the read timeout costs at most attempts x timeout per call."""
    with silent_endpoint() as endpoint:
        client = make_client(timeout=0.2, max_attempts=2, endpoint_url=endpoint)
        cache = TieredCache("v1", store=DynamoDBStore(TABLE, client))
        started = time.perf_counter()
        lookup = cache.get_or_compute_many(["k"], lambda _k: [{"p": 0.5}])[0]
        elapsed = time.perf_counter() - started
    assert lookup.outcome == "MISS"
    assert cache.stats.l2.errors["timeout"] == 1  # the read; then the write is skipped
    assert cache.stats.l2.errors["write_skipped"] == 1
    assert elapsed < 1.5  # 2 attempts x 0.2 s + 50 ms backoff, with slack


class Exploding:
    """A store whose calls raise something other than `StoreError` (a bug, a botocore
    surprise) until `healthy` is set."""

    def __init__(self, store: DynamoDBStore) -> None:
        self.store = store
        self.healthy = False
        self.calls = 0

    def __getattr__(self, name: str):
        method = getattr(self.store, name)

        def call(*args, **kwargs):
            self.calls += 1
            if not self.healthy:
                raise RuntimeError("unexpected")
            return method(*args, **kwargs)

        return call


def test_any_exception_in_the_probe_reopens_the_breaker(store: DynamoDBStore) -> None:
    """The half-open probe's slot is never leaked: L2 is tried again after each cool-down."""
    clock = Clock()
    exploding = Exploding(store)
    breaker = CircuitBreaker(threshold=1, cooldown=10, timer=clock)
    cache = TieredCache("v1", store=exploding, clock=clock, breaker=breaker)
    assert cache.get_or_compute_many(["k1"], lambda _k: [{"p": 0.5}])[0].outcome == "MISS"
    assert breaker.state == "open" and cache.stats.l2.errors["unexpected"] == 1
    clock.now += 10
    cache.get_or_compute_many(["k2"], lambda _k: [{"p": 0.5}])[0]  # the probe raises RuntimeError
    assert breaker.state == "open" and exploding.calls == 2
    clock.now += 10
    exploding.healthy = True
    assert cache.get_or_compute_many(["k3"], lambda _k: [{"p": 0.5}])[0].outcome == "MISS"
    assert exploding.calls == 4  # the probe's read, then its write
    assert breaker.state == "closed"
    assert store.get("k3") is not None


def test_hung_table_costs_one_budget_per_lookup_and_no_write(aws_env: None) -> None:
    """With the service's defaults, a hung table costs each lookup its L2 budget (0.3 s,
    less than the 2 x 0.2 s + 50 ms botocore would wait): the read is abandoned at the
    budget and the lookup skips its write."""
    from service.settings import Settings

    defaults = Settings()
    budget = defaults.l2_budget_seconds
    with silent_endpoint() as endpoint:
        client = make_client(defaults.l2_timeout_seconds, defaults.l2_max_attempts, endpoint)
        cache = TieredCache("v1", store=DynamoDBStore(TABLE, client), l2_budget_seconds=budget)
        started = time.perf_counter()
        cache.get_or_compute_many(["k"], lambda _k: [{"p": 0.5}])[0]
        elapsed = time.perf_counter() - started
    assert cache.stats.l2.errors == {"timeout": 1, "write_skipped": 1}
    assert budget <= elapsed < budget + 0.3  # slack for a loaded machine


class SlowDictStore(DictStore):
    """Reads that take `seconds` of the fake clock."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        super().__init__()
        self.clock, self.seconds = clock, seconds

    def get_many(self, keys, *, timeout=None):
        self.clock.now += self.seconds
        return super().get_many(keys, timeout=timeout)


@pytest.mark.parametrize("tier", ["HIT-L1", "HIT-L2"])
def test_no_hit_is_answered_past_the_ttl_whatever_the_lookup_spends(tier: str) -> None:
    """A hit 1.5 s into a 3 s TTL, in a batch whose other work takes 2 s: by the time the
    answer leaves, the hit would be 3.5 s old, so it is computed again instead."""
    clock = Clock()
    store = SlowDictStore(clock, seconds=0.0)
    memory = MemoryStore(10, 300, timer=clock) if tier == "HIT-L1" else None
    cache = TieredCache("v1", memory=memory, store=store, ttl_seconds=3, clock=clock)
    cache.get_or_compute_many(["hot"], Model())
    clock.now += 1.5
    store.seconds = 1.0  # the batch read of the other keys: 1 s

    def slow_model(keys: list[str]) -> list[dict]:
        clock.now += 1.0
        return [{"p": 0.75} for _ in keys]

    hot = cache.get_or_compute_many(["hot", "cold-1", "cold-2"], slow_model)[0]
    assert hot.outcome == "MISS"  # not the hit, which expired during the lookup
    assert clock.now - hot.record.created_at < 3
