"""Float features and keys: payloads that mean the same share an entry, any other
difference is another entry, and a declared rounding trades exactness for hits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, ValidationError

from cache import make_key
from model.contract import Real, Rounded, rounded_fields
from model.iris import EXAMPLE, Iris, IrisExact
from service.factory import create_app
from tests.conftest import make_settings


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: Real
    y: Annotated[Real, Rounded(2)]


def key(body: bytes) -> str:
    return make_key("m", "v", Point.model_validate_json(body).model_dump(), schema=1)


def test_one_number_one_key_whatever_its_spelling() -> None:
    same = [b'{"x": 1, "y": 0}', b'{"x": 1.0, "y": -0.0}', b'{"y": 0.0, "x": 1e0}',
            b'{"x": 1.000, "y": -0}', b'{"x": 10e-1, "y": 0.001}']  # fmt: skip
    assert len({key(body) for body in same}) == 1


def test_any_other_difference_is_another_key() -> None:
    base = key(b'{"x": 5.9, "y": 1}')
    assert key(b'{"x": 5.900000000000001, "y": 1}') != base  # the next float up
    assert key(b'{"x": 5.9, "y": 1.01}') != base  # past the declared rounding
    assert key(b'{"x": 5.9, "y": 1.004}') == base  # within it


@pytest.mark.parametrize("body", [b'{"x": NaN, "y": 1}', b'{"x": Infinity, "y": 1}',
                                  b'{"x": "1.0", "y": 1}', b'{"x": 1e400, "y": 1}'])  # fmt: skip
def test_non_finite_and_non_numbers_are_refused(body: bytes) -> None:
    with pytest.raises(ValidationError):
        Point.model_validate_json(body)


def test_rounded_fields_are_declared_by_the_request_schema() -> None:
    assert rounded_fields(Point) == ("y",)
    assert rounded_fields(Iris.Request) == tuple(EXAMPLE)
    assert rounded_fields(IrisExact.Request) == ()


@pytest.fixture(scope="module")
def iris_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("iris") / "iris.pkl"
    Iris.train(path)
    return path


def client(spec: str, artifact: Path) -> TestClient:
    return TestClient(create_app(make_settings(artifact, model=spec)))


def test_a_rounded_answer_says_which_input_it_was_computed_for(iris_artifact: Path) -> None:
    iris = client("model.iris:Iris", iris_artifact)
    first = iris.post("/predict", json={**EXAMPLE, "sepal_length": 5.94}).json()
    second = iris.post("/predict", json={**EXAMPLE, "sepal_length": 5.86})
    assert second.headers["x-cache"] == "HIT-L1"  # both are 5.9 to 1 mm
    assert first["input"] == second.json()["input"] == {**EXAMPLE, "sepal_length": 5.9}
    assert set(first["probabilities"]) == {"setosa", "versicolor", "virginica"}
    assert first["species"] == max(first["probabilities"], key=first["probabilities"].get)
    exact = client("model.iris:IrisExact", iris_artifact)
    exact.post("/predict", json={**EXAMPLE, "sepal_length": 5.94})
    other = exact.post("/predict", json={**EXAMPLE, "sepal_length": 5.86})
    assert other.headers["x-cache"] == "MISS" and "input" not in other.json()
