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


def run(spec: str, bodies: list[dict]) -> tuple[float, int, list[dict]]:
    """The L1 hit rate of `bodies` sent one by one, the entries computed, the answers."""
    settings = dataclasses.replace(
        Settings.from_env(), model=spec, cache_mode="memory", model_preload=True,
        log_level="WARNING",
    )  # fmt: skip
    client = TestClient(create_app(settings))
    answers = [client.post("/predict/batch", json={"items": [b]}).json() for b in bodies]
    hits = sum(a["cache"]["hit_l1"] for a in answers)
    entries = client.get("/stats").json()["l1_items"]
    return hits / len(bodies), entries, [a["predictions"][0] for a in answers]


def compare(declared: str, exact: str, bodies: list[dict]) -> list[str]:
    """One line each for the model as declared and its exact variant, and how far apart
    their answers to the same requests are."""
    rate, entries, served = run(declared, bodies)
    exact_rate, exact_entries, truth = run(exact, bodies)
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
    args = parser.parse_args(argv)
    print(describe_machine(), flush=True)
    for spec in (args.rounded, args.intervals):  # as `make serve` would: trained if missing
        cls = model_class(spec)
        if not cls.default_artifact().exists():
            cls.train(cls.default_artifact())
    bodies = noisy_requests(args.rounded, args.requests, args.pool, args.noise, args.seed)
    lines = [f"{args.requests} requests over {args.pool} base payloads, Zipf 1.1, noise sigma "
             f"{args.noise}:", "rounded keys:", *compare(args.rounded, args.exact, bodies),
             "interval keys:", *compare(args.intervals, args.intervals_exact, bodies)]  # fmt: skip
    print("\n".join(lines))
