"""`GET /predict`: the request schema's fields as query parameters, generated from the
model contract; the same validation, key, entry, answer and headers as `POST /predict`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mangum import Mangum

from service.factory import create_app
from stress_test.bench.events import LambdaContext, http_api_v2_event, rest_v1_event
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
