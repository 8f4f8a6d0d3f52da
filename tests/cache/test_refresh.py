"""Early refresh (XFetch): a hot entry is recomputed about once per lifetime, before it
expires, instead of by every container at once when it does.

N simulated containers (each a real `TieredCache` with its own L1) read one hot key
on an injected clock over several TTLs. L2 is shared; a recompute takes `DELTA`
simulated seconds (a cold model load), so its write becomes visible only then and
every container that reads the expired entry meanwhile recomputes too: a stampede.
"""

from __future__ import annotations

import random

import pytest

from cache import CacheRecord, EarlyRefresh, MemoryStore, TieredCache

TTL = 60
DELTA = 1.0  # seconds a recompute takes, model load included
PERIOD = 0.1  # each container reads the hot key this often
STEP = 0.01


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class SlowTable:
    """Shared L2 on the simulated clock: a write lands `DELTA` after the compute started
    (the record keeps the lifetime it was stamped with)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.items: dict[str, list[tuple[float, CacheRecord]]] = {}
        self.leases: dict[str, float] = {}

    def get(self, key: str, *, timeout: float | None = None) -> CacheRecord | None:
        visible = [r for at, r in self.items.get(key, []) if at <= self.clock.now]
        return max(visible, key=lambda r: r.expires_at, default=None)

    def put(self, key: str, record: CacheRecord, *, timeout: float | None = None) -> None:
        self.items.setdefault(key, []).append((self.clock.now + DELTA, record))

    def claim(
        self, key: str, expires_at: float, until: float, now: float, *, timeout: float | None = None
    ) -> bool:
        """As DynamoDBStore's conditional write: one live lease per record."""
        current = self.get(key)
        if current is None or current.expires_at != expires_at:
            return False
        if self.leases.get(key, 0.0) >= now:
            return False
        self.leases[key] = until
        return True


class Stopwatch:
    """A container's duration timer: a compute advances it by `DELTA`."""

    elapsed = 0.0

    def __call__(self) -> float:
        return self.elapsed


def simulate(containers: int, beta: float, ttls: int = 6, seed: int = 7) -> float:
    """Recomputes of the hot key per TTL of simulated time, after the initial fill."""
    clock, rng = Clock(), random.Random(seed)
    table = SlowTable(clock)
    watches = [Stopwatch() for _ in range(containers)]
    caches = [
        TieredCache(
            "v1",
            memory=MemoryStore(10, 10 * TTL, timer=clock),
            store=table,
            ttl_seconds=TTL,
            refresh=EarlyRefresh(beta, rng=rng.random),
            clock=clock,
            timer=watch,
        )
        for watch in watches
    ]
    busy_until = [0.0] * containers
    next_read = [clock.now + rng.uniform(0, PERIOD) for _ in range(containers)]
    computed_at: list[float] = []
    start, end = clock.now, clock.now + ttls * TTL
    while clock.now < end:
        for i, cache in enumerate(caches):
            if clock.now < next_read[i] or clock.now < busy_until[i]:
                continue

            def compute(keys: list[str], watch: Stopwatch = watches[i]) -> list[dict]:
                computed_at.append(clock.now)
                watch.elapsed += DELTA
                return [{"p": 0.5}]

            if cache.get_or_compute_many(["hot"], compute)[0].outcome == "MISS":
                busy_until[i] = clock.now + DELTA
            next_read[i] += PERIOD
        clock.now += STEP
    counted_from = start + TTL / 2  # after the initial fill
    refreshes = [at for at in computed_at if at >= counted_from]
    return len(refreshes) / ((end - counted_from) / TTL)


@pytest.mark.parametrize("containers", [10, 25])
def test_early_refresh_recomputes_about_once_per_ttl(containers: int) -> None:
    without = simulate(containers, beta=0)
    with_refresh = simulate(containers, beta=1)
    assert without >= 0.8 * containers  # the stampede: nearly every container
    assert with_refresh <= 1.2


def test_cold_entries_are_never_refreshed_early() -> None:
    record = CacheRecord({"p": 1}, "v1", created_at=0, expires_at=3600, schema=1, compute_ms=5)
    sure = EarlyRefresh(beta=1, rng=lambda: 0.999999999)  # the likeliest draw to refresh
    assert not sure.due(record, now=3000)  # ten minutes left: never
    assert sure.due(record, now=3599.95)  # the last instants: yes
    assert not EarlyRefresh(beta=0, rng=lambda: 0.999999999).due(record, now=3599.99)


def test_refresh_rewrites_the_entry_while_others_keep_reading_it() -> None:
    clock, watch = Clock(), Stopwatch()
    table = SlowTable(clock)
    always = EarlyRefresh(beta=1, rng=lambda: 0.999999999)  # refresh as soon as it may

    def container(**kwargs: object) -> TieredCache:
        memory = MemoryStore(10, 10 * TTL, timer=clock)
        return TieredCache("v1", memory=memory, store=table, ttl_seconds=TTL, clock=clock, **kwargs)

    def slow(value: dict):
        def compute(keys: list[str]) -> list[dict]:
            watch.elapsed += DELTA
            return [value]

        return compute

    refresher, reader = container(refresh=always, timer=watch), container()
    refresher.get_or_compute_many(["hot"], slow({"p": 0.1}))
    clock.now += DELTA
    old = table.get("hot")
    assert old.compute_ms == DELTA * 1000
    assert reader.get_or_compute_many(["hot"], lambda _k: [{"p": 0.3}])[0].outcome == "HIT-L2"
    clock.now = old.expires_at - 30  # half a minute left: too early even for this draw
    assert refresher.get_or_compute_many(["hot"], slow({"p": 0.2}))[0].outcome == "HIT-L1"
    clock.now = old.expires_at - 5  # within about 20 compute times of expiry: refresh
    lookup = refresher.get_or_compute_many(["hot"], slow({"p": 0.2}))[0]
    assert lookup.outcome == "MISS" and lookup.refresh == "refreshed"
    again = container(refresh=always).get_or_compute_many(["hot"], slow({"p": 0.4}))[0]
    assert again.value == {"p": 0.1} and again.refresh == "refresh_lost"  # leased: cached
    assert reader.get_or_compute_many(["hot"], lambda _k: [{"p": 0.3}])[0].value == {"p": 0.1}
    clock.now += DELTA  # the refresh lands with a fresh expiry
    assert table.get("hot").expires_at > old.expires_at
    clock.now = old.expires_at + 1  # the old entry has expired: readers get the new one
    assert reader.get_or_compute_many(["hot"], lambda _k: [{"p": 0.3}])[0].value == {"p": 0.2}
