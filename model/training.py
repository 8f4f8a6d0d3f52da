"""`predcache train`: make the artifact of the model `MODEL` names (its own `train`).

    predcache train [--out PATH] [--if-missing]      (MODEL=package.module:Class)

The flight-delay model's trainer (`model.flight_delay.train`) takes its own options too
(`--sample`, `--fit-on`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from model.contract import DEFAULT_MODEL, ModelError, model_class, served_spec


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = served_spec()
    try:
        cls = model_class(spec)
    except ModelError as exc:
        print(f"predcache train: {exc}", file=sys.stderr)
        return 1
    parser = argparse.ArgumentParser(prog="predcache train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=cls.default_artifact(), help="artifact path")
    parser.add_argument(
        "--if-missing", action="store_true", help="do nothing when the artifact exists"
    )
    args, rest = parser.parse_known_args(argv)
    if args.if_missing and args.out.exists():
        return 0
    if spec == DEFAULT_MODEL:
        from model.flight_delay import train

        train.main(["--out", str(args.out), *rest])
        return 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    started = time.perf_counter()
    manifest = cls.train(args.out)
    print(
        f"trained {manifest['model_name']} in {time.perf_counter() - started:.1f}s: "
        f"metrics {manifest.get('metrics')}, model_version {manifest['model_version']} "
        f"-> {args.out}"
    )
    return 0


def _tree_model(name: str, path: Path) -> object | None:
    """The loaded object of the artifact at `path` when MODEL is the model `name` and it
    keys by its ensemble's intervals (TreeIntervals), through its own `load`; else None."""
    from model.artifact import ModelArtifact
    from model.contract import Model

    try:
        cls = model_class(served_spec())
    except ModelError:
        return None
    if cls.name != name or cls.keys is None:
        return None
    model = object.__new__(cls)  # not __init__: that needs the thresholds being written
    model.artifact = ModelArtifact(path)
    return model.load(path) if cls.load is not Model.load else model.artifact.unpickled()


def manifest(argv: list[str] | None = None) -> int:
    """`predcache manifest PATH --name NAME`: vouch for an artifact made elsewhere (a
    file in any format, or a folder) by writing its manifest beside it."""
    from model.artifact import ArtifactError, manifest_path_for, register_artifact

    parser = argparse.ArgumentParser(
        prog="predcache manifest",
        description="write the manifest of an artifact made outside predcache (any format, "
        "a file or a folder): its SHA-256, checked before every load",
    )
    parser.add_argument("path", type=Path, help="the artifact: a file or a folder")
    parser.add_argument("--name", required=True, help="the model's `name` (its class says it)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        written = register_artifact(args.path, {"model_name": args.name})
        ensemble = _tree_model(args.name, args.path)
        if ensemble is not None:  # keyed by its intervals: the thresholds go in the manifest
            written = register_artifact(args.path, {"model_name": args.name}, ensemble)
    except (ArtifactError, ModelError, ImportError) as exc:
        print(f"predcache manifest: {exc}", file=sys.stderr)
        return 1
    if ensemble is not None and "trees" not in written:
        print(f"predcache manifest: MODEL declares TreeIntervals, but {args.path} is not a tree "
              "ensemble predcache can key", file=sys.stderr)  # fmt: skip
        return 1
    print(f"{manifest_path_for(args.path)}: {args.name}, model_version "
          f"{written['model_version']} ({written['artifact']['bytes']:,} bytes)")  # fmt: skip
    return 0
