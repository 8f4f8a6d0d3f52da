"""A model's own requirements (`Model.requirements`, `predcache deps`): refused in one
line when they conflict with predcache's pins, before anything installs; pinned into
the Lambda zip's requirements at the versions installed here."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from model.iris import Iris
from service.ops import dependencies
from service.ops.dependencies import (
    DependencyError,
    conflicts,
    install,
    lambda_requirements,
    pins,
)

ROOT = Path(__file__).resolve().parents[2]
SKLEARN = metadata.version("scikit-learn")


def needing(*requirements: str) -> type[Iris]:
    return type("Needs", (Iris,), {"requirements": requirements})


def test_a_requirement_that_conflicts_with_a_pin_is_refused_naming_both(monkeypatch) -> None:
    model = needing("scikit-learn<1.0")
    ran = []
    monkeypatch.setattr(dependencies.subprocess, "run", lambda *a, **k: ran.append(a))
    with pytest.raises(DependencyError) as refused:
        install(model)
    said = str(refused.value)
    assert "scikit-learn<1.0" in said and f"scikit-learn=={SKLEARN}" in said
    assert "\n" not in said
    assert ran == []  # refused before anything installs


def test_a_compatible_or_satisfied_requirement_is_no_conflict() -> None:
    assert conflicts(needing(f"scikit-learn>={SKLEARN}", "httpx"), pins()) == []
    assert install(needing("httpx>=0.1")) == []  # already here: nothing to install


def test_the_lambda_requirements_carry_the_pins_and_the_models_own() -> None:
    text = lambda_requirements(needing("httpx>=0.1", "scikit-learn"))
    lines = text.splitlines()
    assert f"scikit-learn=={SKLEARN}" in lines
    assert f"httpx=={metadata.version('httpx')}" in lines  # the model's own, as installed
    assert lines.count(f"scikit-learn=={SKLEARN}") == 1  # a pin is written once
    assert not any(line.startswith(("boto3", "botocore")) for line in lines)  # Lambda's


def test_a_requirement_not_installed_cannot_be_pinned() -> None:
    with pytest.raises(DependencyError, match="predcache deps --install"):
        lambda_requirements(needing("predcache-no-such-package==1.0"))


def test_predcache_deps_says_it_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(
        "from model.iris import Iris\n\nclass Mine(Iris):\n    requirements = ('numpy<1.0',)\n"
    )
    predcache = str(Path(sys.executable).parent / "predcache")
    done = subprocess.run([predcache, "deps", "--install"], cwd=tmp_path,
                          env={"MODEL": "mine:Mine", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert "numpy<1.0" in line and f"numpy=={metadata.version('numpy')}" in line
