"""`predcache simulate --max-rate`: per front door and cache mode, the highest open-loop
rate answered with no refusal from a standing start (a fleet of no containers), what
refuses just above it, and what a million answered requests cost there.

The rate doubles from `FLOOR` until a run refuses anything, then is bisected to within
`PRECISION`; every run is the simulation of `--duration` seconds at that rate.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stress_test.simulation.aws import REFUSALS
from stress_test.simulation.model import Config, SimulationError, Times, simulate

FLOOR = 10.0  # req/s: the first rate tried
CEILING = 50_000.0  # req/s: past this the search stops and says so
PRECISION = 0.05  # the answer is within 5% of the rate that first refuses


def refusals(run: dict[str, Any]) -> dict[str, int]:
    """A run's refused requests by what refused them, largest first."""
    counted = {f"{s.label} ({s.source.replace('_', ' ')})": run["refused"][s.field]
               for s in REFUSALS if run["refused"][s.field]}  # fmt: skip
    return dict(sorted(counted.items(), key=lambda item: -item[1]))


def max_rate(base: Config, times: Times) -> dict[str, Any]:
    """The limit of `base`'s door and mode (its `rate` and `users` are the search's)."""

    def at(rate: float) -> dict[str, Any]:
        return simulate(replace(base, rate=rate, users=0), times)

    good: tuple[float, dict[str, Any]] | None = None
    rate, run = FLOOR, at(FLOOR)
    while not refusals(run):
        good = (rate, run)
        if rate >= CEILING:
            return _limit(base, good, None)
        rate, run = rate * 2, at(rate * 2)
    if good is None:
        raise SimulationError(
            f"{base.front}/{base.mode}: refused even at {FLOOR:g} req/s ({refusals(run)}): "
            "raise the limit that refuses (see docs/capacity.md) or shorten --duration"
        )
    bad = (rate, run)
    while bad[0] - good[0] > PRECISION * bad[0]:
        middle = (good[0] + bad[0]) / 2
        probe = at(middle)
        if refusals(probe):
            bad = (middle, probe)
        else:
            good = (middle, probe)
    return _limit(base, good, bad)


def _limit(
    base: Config, good: tuple[float, dict[str, Any]], bad: tuple[float, dict[str, Any]] | None
) -> dict[str, Any]:
    rate, run = good
    return {
        "front": base.front,
        "mode": base.mode,
        "rate": round(rate, 1),
        "refusing_rate": round(bad[0], 1) if bad else None,
        "refused_above": refusals(bad[1]) if bad else {},
        "cost_per_million_usd": run["cost_per_million_requests_usd"]["total"],
    }


def print_limits(limits: list[dict[str, Any]], duration: float) -> None:
    print(f"the highest rate answered with no refusal, from a standing start (open loop, "
          f"{duration:g} s simulated at each rate tried):")  # fmt: skip
    print(f"{'door':5} {'mode':7} {'req/s':>9}  {'$/1M':>6}  what refuses just above it")
    for limit in limits:
        if limit["refusing_rate"] is None:
            above = f"nothing up to {CEILING:,.0f} req/s"
        else:
            causes = ", ".join(f"{label} x{n:,}" for label, n in limit["refused_above"].items())
            above = f"at {limit['refusing_rate']:,.1f} req/s: {causes}"
        print(f"{limit['front']:5} {limit['mode']:7} {limit['rate']:9,.1f}  "
              f"{limit['cost_per_million_usd']:6.2f}  {above}")  # fmt: skip
    print("req/s: requests a second offered, every one answered; $/1M: what a million "
          "answered requests cost at that rate (prices: docs/capacity.md); each refusal: the "
          "status a client saw (who answered it) x how many in the run")  # fmt: skip
