"""Unexpected errors are 500 and temporary ones 503, each logged once, as JSON."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.factory import create_app
from service.ops.lambda_local.events import LambdaContext as Context
from service.ops.lambda_local.events import rest_v1_event
from tests.conftest import PAYLOAD, make_settings


def _error_lines(capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every line mentioning the failure, from stderr (our JSON logs) and other loggers."""
    err = capsys.readouterr().err.splitlines()
    others = [r.getMessage() for r in caplog.records if not r.name.startswith("predcache")]
    return [line for line in err + others if "boom" in line or "error" in line.lower()]


def test_unexpected_error_is_500_logged_once(
    artifact_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    from mangum import Mangum

    app = create_app(make_settings(artifact_path), inline=True)
    predictor = app.state.predictions.model

    def boom(rows):
        raise ValueError("boom")

    predictor.predict_many = boom
    caplog.set_level(logging.DEBUG)
    capsys.readouterr()
    response = Mangum(app, lifespan="off")(rest_v1_event(json.dumps(PAYLOAD)), Context())
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"message": "internal error"}
    lines = _error_lines(capsys, caplog)
    assert len(lines) == 1, lines  # neither Starlette nor Mangum logs it again
    entry = json.loads(lines[0])
    assert entry["message"] == "unexpected error" and "boom" in entry["exception"]


def test_model_that_cannot_be_loaded_is_503_with_retry_after(
    artifact_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The artifact changes on disk after start: a temporary failure, not a bug."""
    import shutil

    from model.artifact import manifest_path_for

    copy = tmp_path / "flight_delay.pkl"
    shutil.copy(artifact_path, copy)
    shutil.copy(manifest_path_for(artifact_path), manifest_path_for(copy))
    client = TestClient(create_app(make_settings(copy)))
    copy.write_bytes(b"swapped")  # verified at start, refused at first load
    capsys.readouterr()
    response = client.post("/predict", json=PAYLOAD)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    err = capsys.readouterr().err.splitlines()
    logged = [json.loads(line) for line in err if line.startswith("{")]
    assert [entry["message"] for entry in logged] == ["temporary error"]
    assert "does not match its manifest" in logged[0]["error"]
    assert client.get("/health").status_code == 200


def test_an_error_after_the_response_started_ends_it_instead_of_vanishing() -> None:
    """Half a response is out: the error must reach the server, which aborts the
    connection, rather than leave a truncated answer that looks complete."""
    import asyncio

    from service.errors import ErrorMiddleware

    async def streaming(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"[1,", "more_body": True})
        raise RuntimeError("broke mid-stream")

    sent = []

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "path": "/stream", "method": "GET", "headers": []}
    with pytest.raises(RuntimeError, match="broke mid-stream"):
        asyncio.run(ErrorMiddleware(streaming)(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
