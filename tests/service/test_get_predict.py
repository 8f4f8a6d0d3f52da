"""`GET /predict`: the request schema's fields as query parameters, generated from the
model contract; the same validation, key, entry, answer and headers as `POST /predict`."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mangum import Mangum

from service.factory import create_app
from service.ops.lambda_local.events import LambdaContext, http_api_v2_event, rest_v1_event
from tests.conftest import PAYLOAD, make_settings

QUERY = [(name, str(value)) for name, value in PAYLOAD.items()]


def test_a_get_after_a_post_is_the_same_answer_from_the_same_entry(client: TestClient) -> None:
    posted = client.post("/predict", json=PAYLOAD)
    got = client.get("/predict", params=QUERY)
    assert (posted.headers["x-cache"], got.headers["x-cache"]) == ("MISS", "HIT-L1")
    assert {**posted.json(), "cache": None} == {**got.json(), "cache": None}
    assert got.headers["cache-status"] == "predcache; hit; detail=L1" and "age" in got.headers
    spelled = client.get("/predict", params={**PAYLOAD, "carrier": "ua", "hour": "17.0"})
    assert spelled.headers["x-cache"] == "HIT-L1"  # one meaning, one entry


@pytest.mark.parametrize("event", ["rest_v1", "http_api_v2"])
def test_the_lambda_handler_answers_a_get_from_the_posts_entry(
    artifact_path: Path, event: str
) -> None:
    app = create_app(make_settings(artifact_path), inline=True)
    handler = Mangum(app, lifespan="off")
    build = rest_v1_event if event == "rest_v1" else http_api_v2_event
    posted = handler(build(json.dumps(PAYLOAD)), LambdaContext())
    got = handler(build(None, method="GET", query=QUERY), LambdaContext())
    assert got["statusCode"] == 200, got["body"]
    first, second = json.loads(posted["body"]), json.loads(got["body"])
    assert (first["cache"], second["cache"]) == ("MISS", "HIT-L1")
    assert {**first, "cache": None} == {**second, "cache": None}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ([q for q in QUERY if q[0] != "hour"], "hour"),  # missing
        ([*QUERY, ("gate", "B12")], "gate"),  # extra
        ([*QUERY, ("carrier", "AA")], "carrier"),  # repeated
        ([(n, "x") if n == "month" else (n, v) for n, v in QUERY], "month"),  # malformed
        ([(n, "true") if n == "day" else (n, v) for n, v in QUERY], "day"),  # not a number
        ([(n, "24") if n == "hour" else (n, v) for n, v in QUERY], "hour"),  # out of range
    ],
)
def test_a_bad_query_is_422_naming_the_parameter_and_is_never_cached(
    client: TestClient, query: list, field: str
) -> None:
    response = client.get("/predict", params=query)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == field, response.json()
    stats = client.get("/stats").json()
    assert stats["l1_items"] == 0 and stats["model"]["rows"] == 0


def test_the_openapi_page_lists_the_query_parameters_from_the_schema(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/predict"]["get"]
    assert [p["name"] for p in operation["parameters"]] == list(PAYLOAD)
    assert all(p["in"] == "query" and p["required"] for p in operation["parameters"])


class _Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


def _typed_app(tmp_path: Path, request: type) -> TestClient:
    """An app serving a model whose Request is `request` (every value: 1.0)."""
    from pydantic import BaseModel

    from model.artifact import write_artifact
    from model.contract import Model

    class Out(BaseModel):
        progression: float

    class Typed(Model):
        name = f"typed-{request.__name__.lower()}"
        Request = request
        Value = Out
        artifact_file = "typed.pkl"

        def predict_many(self, rows):
            return [{"progression": 1.0} for _ in rows]

    name = f"Typed{request.__name__}"  # one per request type: MODEL's classes are cached
    vars(sys.modules[__name__])[name] = Typed  # where MODEL finds it
    artifact = tmp_path / "typed.pkl"
    write_artifact({}, artifact, {"model_name": Typed.name})
    return TestClient(create_app(make_settings(artifact, model=f"{__name__}:{name}")))


def test_every_field_type_a_query_can_carry_answers_as_its_post(tmp_path: Path) -> None:
    """Optional numbers, enums, booleans and lists (one parameter, items separated by
    commas, as the OpenAPI page declares) by GET: the POST's entry and answer."""
    from pydantic import BaseModel, ConfigDict

    from model.contract import Real

    class Mixed(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"level": 1}})
        age: Real | None = None
        level: _Level
        flag: bool = False
        tags: list[str] = []
        counts: list[int] = []

    client = _typed_app(tmp_path, Mixed)
    body = {"age": 1.5, "level": 2, "flag": True, "tags": ["a", "b"], "counts": [3, 4]}
    assert client.post("/predict", json=body).headers["x-cache"] == "MISS"
    query = {"age": "1.5", "level": "2", "flag": "true", "tags": "a,b", "counts": "3,4"}
    got = client.get("/predict", params=query)
    assert got.status_code == 200 and got.headers["x-cache"] == "HIT-L1", got.text
    assert client.get("/predict", params={"level": "1"}).status_code == 200  # defaults
    get = client.get("/openapi.json").json()["paths"]["/predict"]["get"]
    parameters = {p["name"]: p for p in get["parameters"]}
    assert (parameters["tags"]["style"], parameters["tags"]["explode"]) == ("form", False)


def test_a_request_a_query_cannot_carry_has_no_get(tmp_path: Path, caplog) -> None:
    from pydantic import BaseModel, ConfigDict

    class Point(BaseModel):
        x: float

    class Nested(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"at": {"x": 1}}})
        at: Point

    client = _typed_app(tmp_path, Nested)
    posted = client.post("/predict", json={"at": {"x": 1.0}})
    assert posted.status_code == 200, posted.text
    assert client.get("/predict", params={"at": "1"}).status_code == 405
    assert "get" not in client.get("/openapi.json").json()["paths"]["/predict"]
