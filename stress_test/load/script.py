"""Scripted traffic: bursts, one-at-a-time requests and idle gaps, in a fixed order.

The same `Step`s drive the Lambda stack over HTTP (`run_over_http`) and the
simulation (`stress_test.simulation.model.World.scripted`), so what the container pool
did can be compared count for count: containers started, reused and reaped, model
loads. `POOL_SCRIPT` is small enough for 2 cores (three containers at most) and its
counts do not depend on timing: a burst's requests overlap (cold starts take seconds),
one-at-a-time requests find an idle container, and a gap of over twice the idle time
outlives any reaper's phase.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from stress_test.payloads import unique_payloads


@dataclass(frozen=True)
class Step:
    """`burst`: these payloads at once; `serial`: one after another; `gap`: wait."""

    kind: str
    payloads: tuple[int, ...] = ()  # indices into `unique_payloads`
    seconds: float = 0.0


def pool_script(idle_seconds: float) -> tuple[Step, ...]:
    """Wave 1 starts three containers; three serial requests reuse them; a long gap
    reaps them all; wave 2 sends wave 1's payloads to three new containers."""
    return (
        Step("burst", (0, 1, 2)),
        Step("gap", seconds=0.5),
        Step("serial", (3, 4, 5)),
        Step("gap", seconds=2.5 * idle_seconds),
        Step("burst", (0, 1, 2)),
    )


WAVE_2 = 4  # the index of the second wave's step in `pool_script`


def script_payload(index: int) -> dict:
    return unique_payloads(1, offset=910_000 + index)[0]


def post(url: str, body: dict, key: str) -> int:
    request = urllib.request.Request(
        f"{url}/predict",
        json.dumps(body).encode(),
        {"content-type": "application/json", "x-api-key": key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def run_over_http(url: str, key: str, script: Sequence[Step]) -> list[float]:
    """Play `script` against a stack; returns when each step started (epoch seconds)."""
    import time

    started = []
    for step in script:
        started.append(time.time())
        if step.kind == "gap":
            time.sleep(step.seconds)
            continue
        bodies = [script_payload(i) for i in step.payloads]
        if step.kind == "burst":
            with ThreadPoolExecutor(len(bodies)) as pool:
                statuses = list(pool.map(lambda b: post(url, b, key), bodies))
        else:
            statuses = [post(url, b, key) for b in bodies]
        if any(status != 200 for status in statuses):
            raise RuntimeError(f"scripted requests answered {statuses}")
    return started
