"""`predcache bench-rounding`: what a model's declared rounding buys and costs, on a
scenario with noisy floats.

A hot pool of the model's payloads (`payload(i)`, Zipf-distributed as the `hot` load
scenario), every float field of each request jittered by Gaussian noise (`--noise`,
in the field's units), sent to two apps in one run: the model as declared (its
`Rounded` fields) and its exact variant. Prints the L1 hit rate of each, and the
largest change rounding makes to any number in an answer (the rounded answer
against the exact model's answer for the same noisy request).

    predcache bench-rounding [--rounded model.iris:Iris] [--exact model.iris:IrisExact]
"""

from __future__ import annotations

import argparse
import dataclasses
import random

from fastapi.testclient import TestClient

from model.contract import model_class
from service.factory import create_app
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


def run(spec: str, bodies: list[dict]) -> tuple[float, list[dict]]:
    settings = dataclasses.replace(
        Settings.from_env(), model=spec, cache_mode="memory", model_preload=True,
        log_level="WARNING",
    )  # fmt: skip
    client = TestClient(create_app(settings))
    answers = [client.post("/predict/batch", json={"items": [b]}).json() for b in bodies]
    hits = sum(a["cache"]["hit_l1"] for a in answers)
    return hits / len(bodies), [a["predictions"][0] for a in answers]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="predcache bench-rounding", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rounded", default="model.iris:Iris", help="the model as declared")
    parser.add_argument("--exact", default="model.iris:IrisExact", help="its exact variant")
    parser.add_argument("--requests", type=int, default=2000, help="requests to each app")
    parser.add_argument("--pool", type=int, default=200, help="distinct base payloads")
    parser.add_argument(
        "--noise", type=float, default=0.02, help="noise sigma, in the fields units"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    args = parser.parse_args(argv)
    print(describe_machine(), flush=True)
    bodies = noisy_requests(args.rounded, args.requests, args.pool, args.noise, args.seed)
    rounded_rate, rounded = run(args.rounded, bodies)
    exact_rate, exact = run(args.exact, bodies)
    pairs = [(value(r), value(e)) for r, e in zip(rounded, exact, strict=True)]
    worst = max(abs(a - b) for r, e in pairs for a, b in zip(numbers(r), numbers(e), strict=True))
    changed = sum(
        {k: v for k, v in r.items() if not numbers(v)} != {k: v for k, v in e.items()
                                                          if not numbers(v)}
        for r, e in pairs
    )  # fmt: skip
    print(
        f"{args.requests} requests over {args.pool} base payloads, Zipf 1.1, noise sigma "
        f"{args.noise}:\n  {args.rounded:24} L1 hit rate {rounded_rate:.3f}\n"
        f"  {args.exact:24} L1 hit rate {exact_rate:.3f}\n"
        f"  largest change rounding made to a number in an answer: {worst:.4f}"
        f"\n  answers whose non-numeric fields (a label) changed: {changed} of {len(pairs)}"
    )
