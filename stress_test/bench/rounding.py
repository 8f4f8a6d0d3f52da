"""`predcache bench-rounding`: what keys that are not exact buy and cost, on a scenario
with noisy floats: a model's declared rounding, and a tree ensemble's interval keys.

A hot pool of the model's payloads (`payload(i)`, Zipf-distributed as the `hot` load
scenario), every float field of each request jittered by Gaussian noise (`--noise`,
in the field's units), sent in one run to each model as declared and to its exact
variant: the rounded model (`Rounded` fields) against its exact keys, and the tree
model keyed by its intervals (`TreeIntervals`) against its exact keys. Prints, for each,
the L1 hit rate, the entries computed (the distinct keys, or cells), and the largest
change to any number in an answer (the answer served against the exact model's answer
for the same noisy request).

    predcache bench-rounding [--rounded model.iris:Iris] [--exact model.iris:IrisExact]
        [--intervals model.iris:IrisTrees] [--intervals-exact model.iris:IrisTreesExact]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import time
from typing import Any

from fastapi.testclient import TestClient
from mangum import Mangum

from model.contract import model_class
from service.factory import create_app
from service.ops.lambda_local.events import LambdaContext, http_api_v2_event
from service.settings import Settings
from stress_test.machine import describe_machine
from stress_test.payloads import zipf_weights


def numbers(value: object) -> list[float]:
    """Every number in a JSON value, in a fixed order (keys sorted): what two answers
    are compared by."""
    if isinstance(value, dict):
        return [n for key in sorted(value) for n in numbers(value[key])]
    if isinstance(value, list):
        return [n for item in value for n in numbers(item)]
    return [float(value)] if isinstance(value, int | float) and not isinstance(value, bool) else []


def value(answer: dict) -> dict:
    """An answer's value fields (not the input echoed, the tier, the age, the version)."""
    return {
        k: v for k, v in answer.items() if k not in ("input", "age_s", "cache", "model_version")
    }


def noisy_requests(spec: str, requests: int, pool: int, noise: float, seed: int) -> list[dict]:
    cls = model_class(spec)
    rng = random.Random(seed)
    base = [cls.payload(i * 7_919) for i in range(pool)]
    floats = [name for name, f in cls.Request.model_fields.items() if f.annotation is float]
    chosen = rng.choices(base, weights=zipf_weights(pool, 1.1), k=requests)
    return [{**p, **{n: p[n] + rng.gauss(0, noise) for n in floats}} for p in chosen]


def accepted(spec: str, body: dict) -> bool:
    """Whether the model's request schema takes the noisy body (noise can push a value
    past a bound: iris's `gt=0`)."""
    try:
        model_class(spec).Request.model_validate(body)
    except ValueError:
        return False
    return True


def run(spec: str, bodies: list[dict]) -> tuple[float, int, list[dict], Any]:
    """The L1 hit rate of `bodies` sent one by one, the entries computed, the answers,
    and the app."""
    settings = dataclasses.replace(
        Settings.from_env(), model=spec, cache_mode="memory", model_preload=True,
        log_level="WARNING",
    )  # fmt: skip
    client = TestClient(create_app(settings))
    answers = [client.post("/predict/batch", json={"items": [b]}).json() for b in bodies]
    hits = sum(a["cache"]["hit_l1"] for a in answers)
    entries = client.get("/stats").json()["l1_items"]
    return hits / len(bodies), entries, [a["predictions"][0] for a in answers], client.app


def l1_hit_us(apps: list[Any], body: dict, rounds: int = 3000) -> list[float]:
    """The median time of an L1 hit on each app through Mangum, as Lambda runs it, the
    apps taking turns (so the machine's drift falls on both alike)."""
    handlers = [Mangum(app, lifespan="off") for app in apps]
    event, context = http_api_v2_event(body), LambdaContext()
    for handler in handlers:
        handler(event, context)  # the entry: every later call is an L1 hit
    times: list[list[float]] = [[] for _ in handlers]
    for _ in range(rounds):
        for handler, spent in zip(handlers, times, strict=True):
            started = time.perf_counter()
            handler(event, context)
            spent.append(time.perf_counter() - started)
    return [statistics.median(spent) * 1e6 for spent in times]


def compare(declared: str, exact: str, bodies: list[dict], rounds: int) -> list[str]:
    """One line each for the model as declared and its exact variant, and how far apart
    their answers to the same requests are."""
    rate, entries, served, app = run(declared, bodies)
    exact_rate, exact_entries, truth, exact_app = run(exact, bodies)
    hit, exact_hit = l1_hit_us([app, exact_app], bodies[0], rounds)
    pairs = [(value(r), value(e)) for r, e in zip(served, truth, strict=True)]
    worst = max(abs(a - b) for r, e in pairs for a, b in zip(numbers(r), numbers(e), strict=True))
    changed = sum(
        {k: v for k, v in r.items() if not numbers(v)} != {k: v for k, v in e.items()
                                                          if not numbers(v)}
        for r, e in pairs
    )  # fmt: skip
    return [
        f"  {declared:28} L1 hit rate {rate:.3f}, {entries:5} entries",
        f"  {exact:28} L1 hit rate {exact_rate:.3f}, {exact_entries:5} entries",
        f"    largest change to a number in an answer: {worst:.4g}; answers whose "
        f"non-numeric fields (a label) changed: {changed} of {len(pairs)}",
        f"    an L1 hit through Mangum: {hit:.0f} us against {exact_hit:.0f} us exact "
        f"({hit / exact_hit:.2f}x, medians, taking turns)",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="predcache bench-rounding", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rounded", default="model.iris:Iris", help="the model as declared")
    parser.add_argument("--exact", default="model.iris:IrisExact", help="its exact variant")
    parser.add_argument(
        "--intervals", default="model.iris:IrisTrees", help="a tree model keyed by intervals"
    )
    parser.add_argument(
        "--intervals-exact", default="model.iris:IrisTreesExact", help="its exact variant"
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests to each app")
    parser.add_argument("--pool", type=int, default=200, help="distinct base payloads")
    parser.add_argument(
        "--noise", type=float, default=0.02, help="noise sigma, in the fields units"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    parser.add_argument("--hit-rounds", type=int, default=3000, help="L1 hits timed per app")
    args = parser.parse_args(argv)
    print(describe_machine(), flush=True)
    for spec in (args.rounded, args.intervals):  # as `make serve` would: trained if missing
        cls = model_class(spec)
        if not cls.default_artifact().exists():
            cls.train(cls.default_artifact())
    bodies = noisy_requests(args.rounded, args.requests, args.pool, args.noise, args.seed)
    specs = (args.rounded, args.exact, args.intervals, args.intervals_exact)
    bodies = [b for b in bodies if all(accepted(spec, b) for spec in specs)]
    left_out = args.requests - len(bodies)
    header = (f"{len(bodies)} requests over {args.pool} base payloads, Zipf 1.1, noise sigma "
              f"{args.noise} ({left_out} that noise made invalid left out):")  # fmt: skip
    rounded = compare(args.rounded, args.exact, bodies, args.hit_rounds)
    intervals = compare(args.intervals, args.intervals_exact, bodies, args.hit_rounds)
    lines = [header, "rounded keys:", *rounded, "interval keys:", *intervals]
    print("\n".join(lines))
