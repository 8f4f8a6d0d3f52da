"""`predcache deps`: a model's own dependencies (`Model.requirements`), beside predcache's.

    predcache deps [--install] [--lambda]      (MODEL=package.module:Class)

A model declares what its `predict_many` needs beyond predcache (LightGBM,
onnxruntime, a tokenizer) on its class; this module is what every job does with
that: checks it against predcache's own pins (the versions this venv runs, which the
Lambda zip ships: a pickle needs the scikit-learn it was trained with), installs what
is missing into the venv without moving any pin (`make serve`, `make package`, … call
`--install` first), and writes the Lambda zip's requirements file (`--lambda`): the
pins plus the model's requirements at the versions installed here. A requirement that
conflicts with a pin is refused before anything installs, in one line naming both.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from model.contract import Model, ModelError, model_class, served_spec

ROOT = Path(__file__).resolve().parents[2]
# The Lambda Python runtime ships these: the zip leaves them out.
PROVIDED_BY_LAMBDA = {"boto3", "botocore"}


class DependencyError(RuntimeError):
    """A model's requirements cannot be met here; the message says why, in one line."""


def predcache_requirements() -> list[Requirement]:
    """pyproject.toml's runtime dependencies: what the Lambda zip carries of predcache."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(spec) for spec in project["dependencies"]]


def pins() -> dict[str, str]:
    """predcache's runtime dependencies at the versions this venv runs, by canonical name."""
    return {
        canonicalize_name(req.name): metadata.version(req.name) for req in predcache_requirements()
    }


def model_requirements(cls: type[Model]) -> list[Requirement]:
    """The model's declared requirements that apply here (their markers hold)."""
    found = []
    for spec in cls.requirements:
        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            raise DependencyError(
                f"{cls.__name__}.requirements: {spec!r} is not PEP 508 ({exc})"
            ) from None
        if req.marker is None or req.marker.evaluate():
            found.append(req)
    return found


def conflicts(cls: type[Model], pinned: dict[str, str]) -> list[str]:
    """One line per model requirement that the version predcache pins does not satisfy."""
    return [
        f"{cls.__name__} requires {req}, but predcache pins "
        f"{req.name}=={pinned[canonicalize_name(req.name)]} (pyproject.toml, this venv): "
        "loosen the model's requirement"
        for req in model_requirements(cls)
        if canonicalize_name(req.name) in pinned
        and not req.specifier.contains(pinned[canonicalize_name(req.name)], prereleases=True)
    ]


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def missing(cls: type[Model]) -> list[Requirement]:
    """The model's requirements this venv does not satisfy yet."""
    return [
        req
        for req in model_requirements(cls)
        if (version := installed_version(req.name)) is None
        or not req.specifier.contains(version, prereleases=True)
    ]


def _installer(python: str) -> list[str]:
    """uv beside the venv's Python when it is there (the Makefile installs it), else pip."""
    uv = Path(python).parent / "uv"
    if uv.exists():
        return [str(uv), "pip", "install", "--python", python, "--quiet"]
    return [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]


def install(cls: type[Model]) -> list[str]:
    """Install the model's missing requirements into this venv, constrained to
    predcache's pins (nothing of predcache moves); the names installed."""
    pinned = pins()
    refused = conflicts(cls, pinned)
    if refused:
        raise DependencyError(refused[0])
    wanted = missing(cls)
    if not wanted:
        return []
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="predcache-pins-") as pinned_file:
        pinned_file.write("".join(f"{name}=={version}\n" for name, version in pinned.items()))
        pinned_file.flush()
        command = [*_installer(sys.executable), "-c", pinned_file.name, *map(str, wanted)]
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        said = " ".join(line.strip() for line in done.stderr.splitlines() if line.strip())
        raise DependencyError(
            f"{cls.__name__}'s requirements {', '.join(map(str, wanted))} cannot be installed "
            f"beside predcache's pins: {said[:400]}"
        )
    return [req.name for req in wanted]


def lambda_requirements(cls: type[Model]) -> str:
    """The Lambda zip's requirements file: predcache's pins and the model's own, each at
    the version installed here (what served and trained the model)."""
    lines = [
        "# generated by `predcache deps --lambda` from pyproject.toml, the model's "
        "requirements and this venv"
    ]
    pinned = pins()
    lines += [
        f"{name}=={version}" for name, version in pinned.items() if name not in PROVIDED_BY_LAMBDA
    ]
    for req in model_requirements(cls):
        if canonicalize_name(req.name) in pinned:
            continue
        version = installed_version(req.name)
        if version is None:
            raise DependencyError(
                f"{cls.__name__} requires {req}, which is not installed: "
                "run `predcache deps --install` (make package does)"
            )
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        lines.append(f"{req.name}{extras}=={version}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    spec = served_spec()
    parser = argparse.ArgumentParser(
        prog="predcache deps",
        description=f"The dependencies of the model MODEL names (now {spec}) beyond "
        "predcache's own: check, install, pin for Lambda.",
    )
    parser.add_argument("--install", action="store_true", help="install what is missing")
    parser.add_argument(
        "--lambda", dest="lambda_", action="store_true",
        help="print the Lambda zip's requirements (predcache's pins + the model's)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        cls = model_class(spec)
        if args.install:
            added = install(cls)
            if added:
                print(f"predcache: installed {', '.join(added)} for MODEL={spec}", file=sys.stderr)
        if args.lambda_:
            sys.stdout.write(lambda_requirements(cls))
        elif not args.install:
            reqs = [str(r) for r in model_requirements(cls)]
            print(f"MODEL={spec} requires {', '.join(reqs) or 'nothing beyond predcache'}")
            for line in conflicts(cls, pins()):
                print(f"conflict: {line}")
    except (ModelError, DependencyError) as exc:
        print(f"predcache deps: {exc}", file=sys.stderr)
        return 1
    return 0
