"""The HTTP contract through the ASGI app (in-memory cache)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.conftest import PAYLOAD


def test_predict_returns_probability_and_cache_outcome(client: TestClient) -> None:
    first = client.post("/predict", json=PAYLOAD)
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"delay_probability", "model_version", "cache", "unknown"}
    assert 0 <= body["delay_probability"] <= 1
    assert body["cache"] == first.headers["x-cache"] == "MISS"
    assert body["unknown"] == []
    second = client.post("/predict", json=PAYLOAD)
    assert second.json()["cache"] == second.headers["x-cache"] == "HIT-L1"
    assert second.json()["delay_probability"] == body["delay_probability"]


def test_codes_are_case_insensitive(client: TestClient) -> None:
    upper = client.post("/predict", json=PAYLOAD).json()
    lower = client.post(
        "/predict", json={**PAYLOAD, "carrier": "ua", "origin": "ewr", "dest": "ord"}
    ).json()
    assert lower["cache"] == "HIT-L1"
    assert lower["delay_probability"] == upper["delay_probability"]


def test_unknown_categories_are_predicted_and_listed(client: TestClient) -> None:
    body = client.post("/predict", json={**PAYLOAD, "carrier": "ZZ", "origin": "XYZ"}).json()
    assert body["unknown"] == ["carrier", "origin"]
    assert 0 <= body["delay_probability"] <= 1


def test_invalid_payload_is_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/predict", json={**PAYLOAD, "month": 2, "day": 30})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"][0]["field"] == "day"
    assert "day" in body["message"]
    assert "30" not in str(body["detail"][0].get("input", ""))


def test_malformed_json_and_wrong_type_and_size(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    bad_json = client.post("/predict", content=b"{nope", headers=headers)
    assert bad_json.status_code == 422
    assert bad_json.json()["detail"][0]["field"] == "body"
    text = {"content-type": "text/plain"}
    assert client.post("/predict", content=b"carrier=UA", headers=text).status_code == 415
    assert client.post("/predict", content=b" " * 600_000, headers=headers).status_code == 413


def test_a_body_with_no_content_type_is_read_as_json(client: TestClient) -> None:
    """As FastAPI reads it, and as AWS SAM's generated API Gateway events send it."""
    response = client.post("/predict", content=json.dumps(PAYLOAD).encode())
    assert response.status_code == 200 and response.headers["x-cache"] == "MISS"


def test_non_ascii_codes_are_refused_not_folded(client: TestClient) -> None:
    """The long s (U+017F) upper-cases to S: a code must be ASCII before it is upper-cased."""
    response = client.post("/predict", json={**PAYLOAD, "origin": "\u017ffo"})
    assert response.status_code == 422 and "origin" in response.json()["message"]


def test_health_and_docs(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert len(health["model_version"]) == 12
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/predict", "/predict/batch", "/health", "/stats"} <= set(schema["paths"])
