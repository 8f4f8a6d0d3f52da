"""An error answer never grows with the request: a query of unknown parameters, a body
of unknown fields, a long path or field name all get answers of a few kB at most, and a
query string past `MAX_QUERY_BYTES` is refused (414) before anything parses it, on
every door."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.factory import create_app
from service.ops.lambda_local.events import LambdaContext as Context
from service.ops.lambda_local.events import http_api_v2_event, rest_v1_event
from service.replies import MAX_PROBLEMS
from tests.conftest import PAYLOAD, make_settings

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
