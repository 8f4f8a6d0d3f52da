"""The measured inputs of `make simulate`, in one file that the benchmarks write.

    bench        `make bench`: per-request service time by outcome, through Mangum
    bench_cold   `make bench-cold`: container init and the model load of a first miss
    stacks.<s>   `make stress` (STACK=local or lambda): what the stack's containers
                 reported under load, and the client's overhead on top of it

Each writer replaces its own section and leaves the others; the file is per
machine (figures differ up to ~3.5x between machines of one kind), so it is not
committed: `stress_test/measurements.json` (`measurements-<model name>.json` with another
`MODEL`), or the file `PREDCACHE_MEASUREMENTS` names.
Where neither exists, `REFERENCE` stands in: a committed set measured on one named
machine (its `about` says which, when and at which commit), so a fresh clone can
simulate at once; whatever this machine measures overrides it, section by section
(a machine that ran `make bench` but not `make bench-cold` takes the reference's
cold-start figures, and `load` says which section came from where). A file named
explicitly (`--measurements`, `PREDCACHE_MEASUREMENTS`) is taken as it is.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from model.contract import DEFAULT_MODEL, model_class, served_spec

DEFAULT = Path(__file__).resolve().parent / "measurements.json"
REFERENCE = Path(__file__).resolve().parent / "reference_measurements.json"
# The sections the reference set holds, and so can stand in for one by one.
REFERENCE_SECTIONS = ("bench", "bench_cold")
WRITERS = {
    "bench": "make bench",
    "bench_cold": "make bench-cold",
    "stacks": "make stress (STACK=local or STACK=lambda)",
}


def default_path() -> Path:
    """`PREDCACHE_MEASUREMENTS`, read at each call, or the file beside this module: one
    per model (`measurements-<name>.json` for any but the default model's)."""
    named = os.environ.get("PREDCACHE_MEASUREMENTS")
    if named:
        return Path(named)
    spec = served_spec()
    if spec == DEFAULT_MODEL:
        return DEFAULT
    return DEFAULT.with_name(f"measurements-{model_class(spec).name}.json")


class MissingMeasurements(FileNotFoundError):
    """A simulation input has not been measured on this machine yet."""


def source(path: Path | None = None) -> Path:
    """The file to read: `path` if named, else this machine's, else the reference set."""
    if path is not None or "PREDCACHE_MEASUREMENTS" in os.environ:
        return path or default_path()
    return default_path() if default_path().exists() else REFERENCE


def load(path: Path | None = None) -> dict[str, Any]:
    """The measurements `source` picks, this machine's completed from the reference set
    per missing section; says which came from the reference set."""
    implicit = path is None and "PREDCACHE_MEASUREMENTS" not in os.environ
    path = source(path)
    data = _read(path)
    borrowed = list(REFERENCE_SECTIONS) if path == REFERENCE else []
    if implicit and path != REFERENCE:
        reference = _read(REFERENCE)
        borrowed = [s for s in REFERENCE_SECTIONS if s not in data and s in reference]
        data |= {section: reference[section] for section in borrowed}
    if borrowed:
        about = _read(REFERENCE).get("about", {})
        mine = [s for s in REFERENCE_SECTIONS if s not in borrowed]
        print(
            f"using the reference measurements ({about.get('model', 'flight-delay')} model, "
            f"{about.get('machine')}, "
            f"{about.get('measured_on')}, commit {about.get('commit')}) for "
            + ", ".join(borrowed)
            + (f"; this machine's {path.name} for {', '.join(mine)}" if mine else "")
            + ": "
            + " and ".join(f"`{WRITERS[s]}`" for s in borrowed)
            + " measure this machine instead",
            file=sys.stderr,
        )
    return data


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise MissingMeasurements(
            f"no measurements at {path}: run `make bench` and `make bench-cold` "
            "(and `make stress STACK=lambda` for the Lambda figures) first"
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MissingMeasurements(f"{path} is not a measurements file: {exc}") from None
    if not isinstance(data, dict):
        raise MissingMeasurements(f"{path} is not a measurements file: not a JSON object")
    return data


def save(section: str, values: dict[str, Any], key: str = "", path: Path | None = None) -> None:
    """Replace `section` (or `section.key`) with `values`, stamped with the time."""
    path = path or default_path()
    data = json.loads(path.read_text()) if path.exists() else {}
    stamped = values | {"measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if key:
        data.setdefault(section, {})[key] = stamped
    else:
        data[section] = stamped
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def need(data: dict[str, Any], section: str, path: Path) -> Any:
    """`data[section]`, or one line naming the make target that writes it."""
    if section not in data:
        raise MissingMeasurements(f"{path} has no `{section}` figures: run `{WRITERS[section]}`")
    return data[section]
