"""`predcache`: one command, a subcommand for every job a user runs.

Each job lives in its own module with its own `main(argv)` and `--help`; this module
only names them, so `predcache --help` costs no imports and the Lambda never loads it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import NamedTuple


class Job(NamedTuple):
    target: str  # "module:function" taking argv
    summary: str


JOBS: dict[str, Job] = {
    "serve": Job("service.ops.local:main", "serve the API on 127.0.0.1 (embedded DynamoDB)"),
    "offline": Job("service.ops.offline:main", "serve serverless.yml through serverless-offline"),
    "warm": Job("service.ops.warm:main", "precompute a schedule's predictions into the table"),
    "inspect": Job("service.ops.entries:inspect", "show one payload's key and cache entry"),
    "purge": Job("service.ops.entries:purge", "delete one payload's cache entry"),
    "train": Job("model.training:main", "train the model MODEL names (default: flight delays)"),
    "manifest": Job("model.training:manifest", "vouch for an artifact made elsewhere"),
    "deps": Job("service.ops.dependencies:main", "the model's own requirements: check, install"),
    "stress": Job("stress_test.load.run:main", "locust load runs per cache mode, with a report"),
    "soak": Job("stress_test.load.soak:main", "unique payloads: memory stays bounded"),
    "bench": Job("stress_test.bench.latency:main", "latency of L1 hit, L2 hit, miss, cache off"),
    "bench-cold": Job("stress_test.bench.cold:main", "first response of a fresh process"),
    "bench-peer": Job("stress_test.bench.peer:main", "against Powertools idempotency"),
    "bench-rounding": Job(
        "stress_test.bench.rounding:main", "hit rate and error of a model's float rounding"
    ),
    "simulate": Job("stress_test.simulation.cli:main", "API Gateway + Lambda capacity model"),
}


# jobs that send many distinct requests of the model's (its `payload(i)`)
NEEDS_PAYLOADS = {"stress", "soak", "bench", "bench-cold", "bench-peer", "simulate"}


def which_model() -> str:
    """Which model a job will load, and how to pick another (for every --help)."""
    from model.contract import ModelError, served_spec

    try:
        spec = served_spec()
    except ModelError as exc:
        return f"model: none ({exc})"
    return (f"model: {spec} (MODEL=package.module:Class picks another, or "
            'model = "…" in ./predcache.toml, once for the folder)')  # fmt: skip


def usage() -> str:
    width = max(map(len, JOBS))
    lines = [f"  {name:{width}}  {job.summary}" for name, job in JOBS.items()]
    return (
        "usage: predcache JOB [options]   (predcache JOB --help for a job's options)\n\n"
        "A model's predictions behind a two-tier prediction cache (memory + DynamoDB).\n"
        f"{which_model()}\n\njobs:\n" + "\n".join(lines)
    )


def payloads_refused(name: str) -> str | None:
    """One line when the job sends the model's requests and the model has no `payload(i)`."""
    from model.contract import Model, ModelError, model_class, served_spec

    if name not in NEEDS_PAYLOADS:
        return None
    try:
        spec = served_spec()
        if model_class(spec).payload is not Model.payload:
            return None
    except ModelError as exc:
        return f"predcache {name}: {exc}"
    return (f"predcache {name}: MODEL={spec} has no payload(i), the i-th of many "
            "distinct requests this job sends: add `def payload(i: int) -> dict` to it "
            "(docs/model.md)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    job = JOBS.get(argv[0])
    if job is None:
        print(f"predcache: unknown job {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    # As uvicorn does (--app-dir .): a model of your own (MODEL=mymodels.x:Y) imports
    # from the folder you run the command in.
    if os.getcwd() not in sys.path:
        sys.path.insert(1, os.getcwd())
    helping = "-h" in argv[1:] or "--help" in argv[1:]
    if not helping and (refused := payloads_refused(argv[0])):
        print(refused, file=sys.stderr)
        return 2
    module, _, function = job.target.partition(":")
    try:
        result = getattr(importlib.import_module(module), function)(argv[1:])
    finally:
        if helping:  # after the job's own help, which exits
            print(f"\n{which_model()}")
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
