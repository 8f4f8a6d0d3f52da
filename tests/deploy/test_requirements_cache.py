"""The folder `make package` reuses for the zip's requirements is keyed on everything
that shapes it: a changed slim pattern, pip argument, runtime or requirement is a
rebuild, not the old folder (serverless-python-requirements keys on the file alone)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))

from requirements_cache import cache_key  # noqa: E402

from service.ops.template import template  # noqa: E402

OPTIONS = template()["custom"]["pythonRequirements"]
REQUIREMENTS = b"numpy==2.4.0\nscikit-learn==1.9.1\n"


def key(options: dict = OPTIONS, requirements: bytes = REQUIREMENTS, runtime: str = "python3.12"):
    return cache_key(requirements, options, runtime)


def changed(**update: object) -> dict:
    options = copy.deepcopy(OPTIONS)
    options.update(update)
    return options


def test_the_same_inputs_reuse_one_folder() -> None:
    assert key() == key(copy.deepcopy(OPTIONS))
    assert key() == key(changed(cacheLocation="/elsewhere"))  # where, not what


def test_whatever_shapes_the_folder_changes_its_key() -> None:
    assert key(changed(slimPatterns=[*OPTIONS["slimPatterns"], "**/*.md"])) != key()
    assert key(changed(pipCmdExtraArgs=OPTIONS["pipCmdExtraArgs"][:-1])) != key()
    assert key(changed(slim=False)) != key()
    assert key(runtime="python3.13") != key()
    assert key(requirements=b"numpy==2.4.1\nscikit-learn==1.9.1\n") != key()
