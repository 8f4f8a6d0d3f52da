"""`predcache simulate --max-rate`: per front door and cache mode, the highest open-loop
rate answered with no refusal, what refuses just above it, and what a million answered
requests cost there, in two settings:

- from a standing start: no environment exists when the traffic starts (a launch, a
  failover, a fleet reaped overnight); every request of `--duration` seconds counts;
- at steady state: the fleet has had `STEADY_SECONDS / 2` to grow, and only the second
  half of a `STEADY_SECONDS` run counts.

The standing-start rate doubles from `FLOOR` until a run refuses anything, then is
bisected to within `PRECISION`, and is searched again with the measured init and model
load times x0.5 and x2 (the range). The steady-state search starts from the rate AWS's
own limits allow (`ceiling`): at steady state those bind, not the cold-start times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from stress_test.simulation.aws import CAUSES, DOORS, REFUSALS
from stress_test.simulation.columns import print_markdown
from stress_test.simulation.model import SCALES, Config, SimulationError, Times, scaled, simulate

FLOOR = 10.0  # req/s: the first rate tried
CEILING = 50_000.0  # req/s: past this the search stops and says so
PRECISION = 0.05  # the answer is within 5% of the rate that first refuses
STEADY_SECONDS = 20.0  # a steady-state run: half to grow the fleet, half counted

Run = tuple[float, dict[str, Any]]  # (rate, the simulation's result)


def binding(run: dict[str, Any], steady: bool) -> dict[str, int]:
    """What refused a run's requests (all of them, or the steady half's), by the limit
    that bit, most first: a Lambda throttle by which of Lambda's limits it hit."""
    refused = run["steady_refused" if steady else "refused"]
    throttled = run["lambda_throttled_steady" if steady else "lambda_throttled"]
    counted: dict[str, int] = {}
    for status in REFUSALS:
        if not refused[status.field]:
            continue
        if status.source == "lambda_throttle":
            for cause, n in throttled.items():
                counted[cause] = counted.get(cause, 0) + n
        else:
            counted[status.source] = counted.get(status.source, 0) + refused[status.field]
    return dict(sorted(((c, n) for c, n in counted.items() if n), key=lambda item: -item[1]))


def _search(at: Callable[[float], dict], steady: bool, first: float,
            step: float = 2.0) -> tuple[Run | None, Run | None]:  # fmt: skip
    """(the highest rate answered in full, the lowest refused), `PRECISION` apart:
    from `first`, up (or down, if it refuses) by `step`, whose excess over 1 doubles
    each time up to 2, then bisection. A good guess as `first` with a small `step`
    takes two runs."""
    rate, run = first, at(first)
    up = not binding(run, steady)
    good, bad = ((rate, run), None) if up else (None, (rate, run))
    while (bad if up else good) is None:
        if rate >= CEILING if up else rate <= FLOOR:
            return good, bad
        rate = min(CEILING, rate * step) if up else max(FLOOR, rate / step)
        run = at(rate)
        if binding(run, steady):
            bad = (rate, run)
        else:
            good = (rate, run)
        step = min(2.0, 1 + 2 * (step - 1))
    while bad[0] - good[0] > PRECISION * bad[0]:
        middle = (good[0] + bad[0]) / 2
        probe = at(middle)
        if binding(probe, steady):
            bad = (middle, probe)
        else:
            good = (middle, probe)
    return good, bad


def ceiling(config: Config) -> tuple[float, str]:
    """The highest rate AWS's rate limits let through this door for good, and which one
    binds: the usage plan or route throttle, API Gateway's account rate, or Lambda's
    invocations per unit of concurrency. A burst allowance only delays them."""
    limits, door = config.limits, DOORS[config.front]
    rates = [(limits.requests_per_concurrency * limits.concurrency, "invocation_rate")]
    if door.plan is not None:
        rates.append((limits.plan_rate, door.plan.source))
    if door.account_throttle:
        rates.append((limits.account_rate, "apigw_account"))
    return min(rates)


def _standing(
    base: Config, times: Times, first: float = FLOOR, step: float = 2.0
) -> tuple[Run, Run | None]:
    """The standing-start limit's (good, refused) runs; no rate answered in full is an
    error naming what refused at the smallest rate tried."""

    def at(rate: float) -> dict[str, Any]:
        return simulate(replace(base, rate=rate, users=0), times)

    good, bad = _search(at, False, first, step)
    if good is None:
        raise SimulationError(
            f"{base.front}/{base.mode}: refused even at {FLOOR:g} req/s, the smallest rate "
            f"tried ({_causes(bad[1], False)}): raise that limit (docs/capacity.md) or "
            "shorten --duration"
        )
    return good, bad


def _steady(base: Config, times: Times, start: Run) -> dict[str, Any] | None:
    """The steady-state limit: just under `ceiling` where the fleet holds it, else
    searched from the standing-start rate (None if even that is refused)."""

    def at(rate: float) -> dict[str, Any]:
        return simulate(replace(base, rate=rate, users=0, duration=STEADY_SECONDS), times)

    top, cause = ceiling(base)
    near = (top * (1 - PRECISION), at(top * (1 - PRECISION)))
    if not binding(near[1], True):
        return _limit(near, None, True) | {"refusing_rate": top, "refused_above": {cause: 0}}
    good, bad = _search(at, True, start[0], 1 + PRECISION)
    return _limit(good, bad, True) if good else None


def max_rate(base: Config, times: Times, spread: bool = True) -> dict[str, Any]:
    """The limits of `base`'s door and mode (its `rate` and `users` are the search's),
    with the standing start's range (x0.5, x2) unless not `spread`."""
    good, bad = _standing(base, times)
    scaled_rates = {}
    for scale in SCALES if spread else ():
        guess = max(FLOOR, good[0] / scale)  # cold starts x2: about half the rate
        config, slower = scaled(base, times, scale)
        scaled_rates[f"x{scale:g}"] = round(
            _standing(config, slower, guess, 1 + PRECISION)[0][0], 1
        )
    return {
        "front": base.front,
        "mode": base.mode,
        "duration": base.duration,
        "standing_start": _limit(good, bad, False) | {"range": scaled_rates},
        "steady_state": _steady(base, times, good),
    }


def _limit(good: Run, bad: Run | None, steady: bool) -> dict[str, Any]:
    rate, run = good
    return {
        "rate": round(rate, 1),
        "answered_rps": run["answered_rps"],
        "cost_per_million_usd": run["cost_per_million_requests_usd"]["total"],
        "refusing_rate": round(bad[0], 1) if bad else None,
        "refused_above": binding(bad[1], steady) if bad else {},
    }


def _causes(run: dict[str, Any], steady: bool) -> str:
    return ", ".join(f"{CAUSES[c][0]} x{n:,}" for c, n in binding(run, steady).items())


def above(limit: dict[str, Any] | None) -> str:
    """What refused just above a limit, and at which rate: the table's last column."""
    if limit is None:
        return "-"
    if limit["refusing_rate"] is None:
        return f"nothing to {CEILING:,.0f}/s"
    causes = ", ".join(CAUSES[c][0] for c in limit["refused_above"])
    return f"{causes} ({limit['refusing_rate']:,.0f}/s)"


def spread(start: dict[str, Any]) -> str:
    """A standing-start rate's x0.5-x2 range, or - where it was not asked."""
    return "-".join(f"{v:,.0f}" for v in sorted(start["range"].values())) or "-"


def print_limits(limits: list[dict[str, Any]], duration: float, markdown: bool = False) -> None:
    """One line per door and mode, and a legend naming every column and limit (a
    markdown table alone with `markdown`)."""
    heads = ["door", "mode", "start req/s", "x0.5-x2", "$/1M", "refused above by",
             "steady req/s", "$/1M", "refused above by"]  # fmt: skip
    lines = []
    for limit in limits:
        start, steady = limit["standing_start"], limit["steady_state"]
        lines.append([limit["front"], limit["mode"], f"{start['rate']:,.0f}", spread(start),
                      f"{start['cost_per_million_usd']:.2f}", above(start),
                      f"{steady['rate']:,.0f}" if steady else "-",
                      f"{steady['cost_per_million_usd']:.2f}" if steady else "-",
                      above(steady)])  # fmt: skip
    if markdown:
        print_markdown(heads, lines)
        return
    print("the most each door answers with no refusal (open loop):")
    widths = (5, 7, 11, 11, 6, 32, 12, 6, 0)
    for line in [heads, *lines]:
        cells = enumerate(zip(line, widths, strict=True))
        print(
            " ".join(f"{c:{'<' if i in (0, 1, 5, 8) else '>'}{w}}" for i, (c, w) in cells).rstrip()
        )
    print()
    for head, meaning in legend(duration):
        print(f"  {head:24} {meaning}")


def legend(duration: float) -> list[tuple[str, str]]:
    """(header, meaning) for each column of the limits' table, then each limit named."""
    return [
        ("start req/s", "the highest open-loop rate answered with no refusal from a standing "
         f"start (no environment yet; {duration:g} s simulated at each rate tried)"),
        ("x0.5-x2", "that rate with the measured init and model load times halved, doubled "
         "(-: not asked; --max-rate, make simulate MAX_RATE=1)"),
        ("steady req/s", "the same once the fleet has grown (the second half of "
         f"{STEADY_SECONDS:g} s runs)"),
        ("$/1M", "USD per million answered requests at that rate (prices: docs/capacity.md)"),
        ("refused above by", "what refused requests at the first rate tried above (in "
         "brackets), most refusals first, of:"),
        *CAUSES.values(),
    ]  # fmt: skip
