"""The contract's fault suite: small models that break it, each answered with the right
status through the app, nothing wrong stored in any tier, and a good answer never
turned into a failure (the outside review's cases, ../shared/repro/contract/)."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from model.artifact import write_artifact
from model.contract import Integer, Model, Real, Rounded
from service.factory import create_app
from tests.conftest import make_settings, run_together

BODY = {"age": 0.5, "bmi": 0.25}


class Patient(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": BODY})
    age: Real
    bmi: Real


class Progression(BaseModel):
    progression: float


class Toy(Model):
    name = "toy"
    Request = Patient
    Value = Progression
    artifact_file = "toy.pkl"
    calls: ClassVar[int] = 0

    def predict_many(self, rows: Any) -> Any:
        type(self).calls += 1
        return [{"progression": float(r["age"] + r["bmi"])} for r in rows]

    @classmethod
    def train(cls, out: Path) -> dict:
        return write_artifact({"w": 1.0}, out, {"model_name": cls.name})


class NumpyFloat(Toy):
    def predict_many(self, rows: Any) -> Any:
        type(self).calls += 1
        return [{"progression": np.float64(r["age"] + r["bmi"])} for r in rows]


class NumpyArray(Toy):
    def predict_many(self, rows: Any) -> Any:
        type(self).calls += 1
        return np.array([[r["age"] + r["bmi"]] for r in rows])  # not even dicts


class NaNOutput(Toy):
    def predict_many(self, rows: Any) -> Any:
        type(self).calls += 1
        return [{"progression": math.nan} for _ in rows]


class Raises(Toy):
    def predict_many(self, rows: Any) -> Any:
        type(self).calls += 1
        raise ValueError("feature out of range")


class WrongLength(Toy):
    def predict_many(self, rows: Any) -> Any:
        type(self).calls += 1
        return [{"progression": 1.0}] * (len(rows) + 1)


class Generator(Toy):
    def predict_many(self, rows: Any) -> Any:
        type(self).calls += 1
        return ({"progression": 1.0} for _ in rows)


class WrongShape(Toy):
    def predict_many(self, rows: Any) -> Any:
        type(self).calls += 1
        return [{"progress": "high"} for _ in rows]


class Slow(Toy):
    def predict_many(self, rows: Any) -> Any:
        type(self).calls += 1
        time.sleep(0.3)
        return [{"progression": 1.0} for _ in rows]


class Mutating(Toy):
    """Scales its input rows in place, as a preprocessing step might."""

    def predict_many(self, rows: Any) -> Any:
        type(self).calls += 1
        for row in rows:
            row["age"] *= 2
        return [{"progression": float(r["age"] + r["bmi"])} for r in rows]


class RaisingCheck(Toy):
    """A hand-written check that raises on a value of another shape."""

    def is_valid(self, value: Any) -> bool:
        return 0.0 <= value["progression"] <= 100.0


# (model, status of the first and second identical request, model calls for the two,
#  items L1 holds after them)
CASES = {
    "numpy float": (NumpyFloat, (200, 200), 1, 1),
    "numpy array": (NumpyArray, (500, 500), 2, 0),
    "NaN output": (NaNOutput, (500, 500), 2, 0),
    "raising predict": (Raises, (500, 500), 2, 0),
    "wrong length": (WrongLength, (500, 500), 2, 0),
    "wrong shape": (WrongShape, (500, 500), 2, 0),
    "generator": (Generator, (200, 200), 1, 1),
    "slow": (Slow, (200, 200), 1, 1),
}


def serve(cls: type[Toy], tmp_path: Path, **overrides: Any) -> TestClient:
    artifact = tmp_path / cls.artifact_file
    if not artifact.exists():
        cls.train(artifact)
    spec = f"{cls.__module__}:{cls.__name__}"
    app = create_app(make_settings(artifact, model=spec, **overrides))
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_misbehaving_model_is_answered_and_nothing_wrong_is_kept(
    case: str, tmp_path: Path
) -> None:
    cls, statuses, calls, kept = CASES[case]
    cls.calls = 0
    client = serve(cls, tmp_path)
    answers = [client.post("/predict", json=BODY) for _ in range(2)]
    assert tuple(a.status_code for a in answers) == statuses, answers[0].text
    assert cls.calls == calls
    assert client.get("/stats").json()["l1_items"] == kept
    if statuses[0] == 200:
        first, second = (a.json() for a in answers)
        assert isinstance(first["progression"], float)
        assert (first["cache"], second["cache"]) == ("MISS", "HIT-L1")
    else:
        assert answers[0].json() == {"message": "internal error"}


def test_a_slow_model_runs_once_for_concurrent_identical_requests(tmp_path: Path) -> None:
    Slow.calls = 0
    client = serve(Slow, tmp_path)
    replies: list[int] = []
    threads = [threading.Thread(target=lambda: replies.append(
        client.post("/predict", json=BODY).status_code)) for _ in range(4)]  # fmt: skip
    run_together(threads)
    assert replies == [200] * 4 and Slow.calls == 1


def test_a_model_that_changes_its_rows_changes_no_later_answer(tmp_path: Path) -> None:
    """Rows a repeated body keeps (service/routes.py) reach the model as copies: with the
    cache off, every identical request gets the same answer."""
    Mutating.calls = 0
    client = serve(Mutating, tmp_path, cache_mode="off")
    answers = [client.post("/predict", json=BODY).json()["progression"] for _ in range(3)]
    assert answers == [1.25] * 3 and Mutating.calls == 3


def test_a_check_that_raises_is_a_miss_recomputed_and_overwritten(
    tmp_path: Path, moto_endpoint: str, table: str
) -> None:
    """An L2 item of another shape makes the hand-written check raise: the fresh
    container recomputes and overwrites it, never a 500."""
    tiered = {"cache_mode": "tiered", "dynamodb_endpoint": moto_endpoint, "cache_table": table}
    RaisingCheck.calls = 0
    first = serve(RaisingCheck, tmp_path, **tiered)
    assert first.post("/predict", json=BODY).json()["cache"] == "MISS"
    service = first.app.state.predictions
    key = service.key(Patient(**BODY))
    store = service.cache.store
    store.put(key, replace(store.get(key), value={"other": "shape"}))
    fresh = serve(RaisingCheck, tmp_path, **tiered)
    replies = [fresh.post("/predict", json=BODY) for _ in range(2)]
    assert [r.status_code for r in replies] == [200, 200]
    assert [r.json()["cache"] for r in replies] == ["MISS", "HIT-L1"]
    assert RaisingCheck.calls == 2


class Plain(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"x": 1.0}})
    x: float | None = None
    n: int = 0


class PlainFields(Toy):
    Request = Plain

    def predict_many(self, rows: Any) -> Any:
        return [{"progression": -1.0 if r["x"] is None else float(r["x"] > 0)} for r in rows]


@pytest.mark.parametrize(
    "body",
    [
        '{"x": Infinity}',
        '{"x": "-inf"}',
        '{"x": NaN}',
        '{"x": 1e400}',
        '{"n": 18446744073709551616}',
    ],
)
def test_a_value_a_key_cannot_carry_is_a_422_naming_its_field(body: str, tmp_path: Path) -> None:
    client = serve(PlainFields, tmp_path)
    refused = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["field"] in ("x", "n")
    assert client.post("/predict", json={}).json()["progression"] == -1.0  # null keeps its meaning
    batch = client.post("/predict/batch", content='{"items": [{"x": 1.0}, ' + body + "]}",
                        headers={"content-type": "application/json"})  # fmt: skip
    assert batch.status_code == 422 and batch.json()["detail"][0]["field"].startswith("items.1.")


def test_a_body_that_repeats_a_key_is_a_422_naming_it(tmp_path: Path) -> None:
    client = serve(Toy, tmp_path)
    refused = client.post("/predict", content='{"age": 0.5, "bmi": 0.25, "age": 0.7}',
                          headers={"content-type": "application/json"})  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["detail"] == [
        {"field": "age", "message": "Given more than once", "type": "repeated"}
    ]
    text = client.post("/predict", content='{"age": 0.5, "bmi": 0.25}',
                       headers={"content-type": "application/json"})  # fmt: skip
    assert text.status_code == 200


def test_rounding_comes_before_the_bounds_and_integer_is_a_json_integer() -> None:
    from typing import Annotated

    from pydantic import Field, ValidationError

    class Request(BaseModel):
        w: Annotated[Real, Field(gt=0, le=30), Rounded(1)]
        k: Integer = 0

    assert Request(w=0.06).w == 0.1
    with pytest.raises(ValidationError, match="greater than 0"):
        Request(w=0.04)  # rounds to 0.0, which the field's bound refuses
    assert Request(w=30.04).w == 30.0  # rounds into the bound
    assert Request(w=1, k=7.0).k == 7
    for bad in ("7", True, 7.5):
        with pytest.raises(ValidationError):
            Request(w=1, k=bad)


def test_the_models_code_is_in_its_identity_unless_pinned() -> None:
    class Edited(Toy):
        def predict_many(self, rows: Any) -> Any:
            return [{"progression": 0.0} for _ in rows]

    assert Toy.code_identity() != Edited.code_identity()
    assert type("Pinned", (Toy,), {"code_version": "v1"}).code_identity() == "v1"
