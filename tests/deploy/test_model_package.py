"""deploy/model_package.py, what `make package` asks before anything installs: a model
whose example its own schema refuses, or whose requirement has no wheel for the
runtime, stops the package in one line; and a zip past Lambda's limit becomes an image."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from model.iris import Iris
from service.ops.dependencies import DependencyError
from service.ops.template import template

pytestmark = pytest.mark.deploy
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))

import check_package  # noqa: E402
from model_package import check_example, check_wheels  # noqa: E402


class Tiny(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"n": 99}})
    n: int = Field(le=10)


@pytest.mark.refusals
def test_an_example_its_own_schema_refuses_stops_the_package() -> None:
    refused = type("Refused", (Iris,), {"Request": Tiny})
    with pytest.raises(Exception, match="OpenAPI example is refused by its own Request: n:"):
        check_example(refused)


@pytest.mark.refusals
def test_a_requirement_without_a_wheel_for_the_runtime_stops_the_package() -> None:
    """Asked of the package index as the zip's build would (Linux x86_64 wheels only)."""
    needs = type("Needs", (Iris,), {"requirements": ("lightgbm",)})
    options = template()["custom"]["pythonRequirements"]
    with pytest.raises(DependencyError, match=r"lightgbm==0\.0\.0: no wheel for python3\.12"):
        check_wheels(needs, "lightgbm==0.0.0\n", options, "python3.12")


def test_a_zip_past_lambdas_limit_becomes_an_image(monkeypatch, tmp_path: Path) -> None:
    """The image path is taken on its own, not only on PACKAGE=image."""
    package = ROOT / ".serverless"
    if not (package / "predcache.zip").exists():
        pytest.fail("no package: run `make package` (make test-deploy does)")
    seen = []
    monkeypatch.setattr(check_package, "LAMBDA_UNZIPPED_LIMIT", 1000)
    monkeypatch.setattr(check_package, "check_image", lambda z, t: seen.append(z) or [])
    monkeypatch.setattr(check_package, "check_answers", lambda z, t: pytest.fail("zip path"))
    monkeypatch.setattr(sys, "argv", ["check_package.py", str(package / "predcache.zip")])
    check_package.main()
    assert seen == [package / "predcache.zip"]
