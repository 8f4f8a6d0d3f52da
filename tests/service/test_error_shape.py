"""One error body for every 4xx and 5xx the app answers: `{"message": <sentence>, …}`."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from service.factory import create_app
from tests.conftest import PAYLOAD, make_settings


def test_every_error_status_has_a_message(artifact_path: Path) -> None:
    settings = make_settings(artifact_path, api_keys=frozenset({"k"}), max_body_bytes=1024)
    app = TestClient(create_app(settings), raise_server_exceptions=False)
    key = {"x-api-key": "k"}
    answers = {
        401: app.post("/predict", json=PAYLOAD),
        404: app.get("/nowhere", headers=key),
        405: app.delete("/predict", headers=key),
        413: app.post(
            "/predict",
            content=b"{" + b" " * 2000 + b"}",
            headers=key | {"content-type": "application/json"},
        ),
        415: app.post(
            "/predict", content=json.dumps(PAYLOAD), headers=key | {"content-type": "text/csv"}
        ),
        422: app.post("/predict", json={**PAYLOAD, "hour": 24}, headers=key),
    }
    for status, response in answers.items():
        assert response.status_code == status
        body = response.json()
        assert isinstance(body["message"], str) and body["message"], status
        assert "detail" not in body or status == 422
    assert answers[413].json()["limit"] == 1024
    assert answers[422].json()["detail"][0]["field"] == "hour"


def test_the_openapi_schema_documents_the_error_body(artifact_path: Path) -> None:
    schema = TestClient(create_app(make_settings(artifact_path))).get("/openapi.json").json()
    responses = schema["paths"]["/predict"]["post"]["responses"]
    components = schema["components"]["schemas"]
    for status in ("400", "401", "413", "415", "422", "500", "503"):
        ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
        body = components[ref.rsplit("/", 1)[-1]]
        assert "message" in body["required"] and body["properties"]["message"]["type"] == "string"
