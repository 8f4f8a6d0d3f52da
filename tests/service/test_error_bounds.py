"""An error answer never grows with the request: a query of unknown parameters, a body
of unknown fields, a long path or field name all get answers of a few kB at most, a
query string past `MAX_QUERY_BYTES` is refused (414) before anything parses it, on
every door, and an oversized value in any place a client controls (method, path, query,
headers, field names, a union's tag, a value a validator quotes) comes back cut."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.factory import create_app
from service.ops.lambda_local.events import LambdaContext as Context
from service.ops.lambda_local.events import http_api_v2_event, rest_v1_event
from service.replies import MAX_MESSAGE_CHARS, MAX_PROBLEMS
from tests.conftest import PAYLOAD, make_settings
from tests.model.test_contract_faults import Toy, serve

UNKNOWN = [(f"p{i:06d}x{'A' * 40}", "1") for i in range(180)]  # a 9 kB query
ASKED = [(name, str(value)) for name, value in PAYLOAD.items()]


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch, artifact_path: Path):
    """A Lambda handler for the app, allowing a 9 kB query (API Gateway's URL limit
    is above it), so the 422's own bound is what is tested."""
    from mangum import Mangum

    settings = make_settings(artifact_path, max_query_bytes=16_384)
    return Mangum(create_app(settings, inline=True), lifespan="off")


@pytest.mark.parametrize("make_event", [rest_v1_event, http_api_v2_event])
def test_a_9kb_query_of_unknown_parameters_answers_under_4kb(handler, make_event) -> None:
    event = make_event(None, "/predict", "GET", query=[*ASKED, *UNKNOWN])
    assert len("&".join(f"{k}={v}" for k, v in UNKNOWN)) > 9000
    answer = handler(event, Context())
    assert answer["statusCode"] == 422
    assert len(answer["body"]) < 4000, len(answer["body"])
    body = json.loads(answer["body"])
    assert len(body["detail"]) == MAX_PROBLEMS and body["more"] == len(UNKNOWN) - MAX_PROBLEMS
    assert body["message"].endswith(f"and {len(UNKNOWN) - 5} more")


def test_a_body_of_unknown_fields_and_long_names_answers_under_4kb(artifact_path: Path) -> None:
    app = TestClient(create_app(make_settings(artifact_path)), raise_server_exceptions=False)
    fields = {f"{i}{'B' * 3000}": 1 for i in range(100)}
    answer = app.post("/predict", json={**PAYLOAD, **fields})
    assert answer.status_code == 422 and len(answer.content) < 4000, len(answer.content)
    assert all(len(problem["field"]) <= 64 for problem in answer.json()["detail"])
    missing = app.get("/" + "x" * 6000)
    assert missing.status_code == 404 and len(missing.content) < 400


def test_few_problems_are_all_named(artifact_path: Path) -> None:
    app = TestClient(create_app(make_settings(artifact_path)), raise_server_exceptions=False)
    body = app.post("/predict", json={**PAYLOAD, "hour": 24, "extra": 1}).json()
    assert body["more"] == 0 and {p["field"] for p in body["detail"]} == {"hour", "extra"}
    assert "hour: " in body["message"] and "extra: " in body["message"]


@pytest.mark.parametrize("make_event", [rest_v1_event, http_api_v2_event])
def test_a_query_past_the_limit_is_a_414_on_every_door(artifact_path: Path, make_event) -> None:
    from mangum import Mangum

    settings = make_settings(artifact_path, api_keys=frozenset({"k"}))
    handler = Mangum(create_app(settings, inline=True), lifespan="off")
    event = make_event(None, "/predict", "GET", query=[*ASKED, *UNKNOWN])
    event["headers"]["x-api-key"] = "k"
    answer = handler(event, Context())
    assert answer["statusCode"] == 414
    assert json.loads(answer["body"])["limit"] == settings.max_query_bytes == 4096
    event["headers"]["x-api-key"] = "wrong"  # a key is asked for first
    assert handler(event, Context())["statusCode"] == 401
    fits = make_event(None, "/predict", "GET", query=ASKED)
    fits["headers"]["x-api-key"] = "k"
    assert handler(fits, Context())["statusCode"] == 200


class Cat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Owner(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "pet": {"kind": "cat", "lives": 9}, "name": "Ada", "size": "s"}})  # fmt: skip
    pet: Annotated[Cat | Dog, Field(discriminator="kind")]
    name: str
    size: Literal["s", "m", "l"]

    @field_validator("name")
    @classmethod
    def known(cls, name: str) -> str:
        if name != "Ada":
            raise ValueError(f"no owner named {name}")  # quotes the client's value, unquoted
        return name


class Pets(Toy):
    name = "pets"
    Request = Owner

    def predict_many(self, rows: Any) -> Any:
        return [{"progression": 1.0} for _ in rows]


BIG = "Z" * 50_000
GOOD = {"pet": {"kind": "cat", "lives": 9}, "name": "Ada", "size": "s"}
PLACES = {
    "method": lambda c: c.request(BIG, "/predict"),
    "path": lambda c: c.get(f"/{BIG}"),
    "path under /predict": lambda c: c.post(f"/predict/{BIG}", json=GOOD),
    "union tag": lambda c: c.post("/predict", json={**GOOD, "pet": {"kind": BIG, "lives": 1}}),
    "literal": lambda c: c.post("/predict", json={**GOOD, "size": BIG}),
    "validator's words": lambda c: c.post("/predict", json={**GOOD, "name": BIG}),
    "field name": lambda c: c.post("/predict", json={**GOOD, BIG: 1}),
    "nested field name": lambda c: c.post("/predict", json={**GOOD, "pet": {"kind": "cat",
                                                                           "lives": 1, BIG: 1}}),
    "batch of tags": lambda c: c.post("/predict/batch", json={"items": [
        {**GOOD, "pet": {"kind": f"{i}{BIG[:20_000]}", "lives": 1}} for i in range(20)]}),
    "query value": lambda c: c.get("/predict", params={**GOOD, "size": BIG[:3000]}),
    "query name": lambda c: c.get("/predict", params={BIG[:3000]: "1"}),
    "content-type": lambda c: c.post("/predict", content=b"{}",
                                     headers={"content-type": BIG}),
    "api key": lambda c: c.post("/predict", json=GOOD, headers={"x-api-key": BIG}),
    "json": lambda c: c.post("/predict", content=b'{"name": "' + BIG.encode(),
                             headers={"content-type": "application/json"}),
}  # fmt: skip


@pytest.mark.parametrize("place", PLACES, ids=list(PLACES))
def test_an_oversized_value_anywhere_comes_back_cut(place: str, tmp_path: Path) -> None:
    keyed = place == "api key"
    app = serve(Pets, tmp_path, **({"api_keys": frozenset({"k"})} if keyed else {}))
    assert app.post("/predict", json=GOOD).status_code == (401 if keyed else 200)
    answer = PLACES[place](app)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:200])
    assert len(answer.content) < 4096, (place, len(answer.content))
    assert "Z" * (MAX_MESSAGE_CHARS + 1) not in answer.text
    assert json.loads(answer.content)["message"]


def test_a_cut_union_tag_still_names_the_expected_tags(tmp_path: Path) -> None:
    app = serve(Pets, tmp_path)
    body = app.post("/predict", json={**GOOD, "pet": {"kind": BIG, "lives": 1}}).json()
    (problem,) = body["detail"]
    assert "expected tags: 'cat', 'dog'" in problem["message"]
