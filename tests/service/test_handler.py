"""The Lambda entry point with real API Gateway events (HTTP API v2 and REST v1)."""

from __future__ import annotations

import functools
import importlib
import json
import sys
from pathlib import Path

import pytest

from service.ops.lambda_local.events import LambdaContext as Context
from service.ops.lambda_local.events import http_api_v2_event, rest_v1_event
from tests.conftest import PAYLOAD

rest_v1_base64 = functools.partial(rest_v1_event, base64_body=True)


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch, artifact_path: Path):
    """`service.handler.handler` imported fresh, configured from the environment."""
    monkeypatch.setenv("MODEL_PATH", str(artifact_path))
    monkeypatch.setenv("CACHE_MODE", "memory")
    for name in ("service.app", "service.handler"):
        sys.modules.pop(name, None)
    yield importlib.import_module("service.handler").handler
    for name in ("service.app", "service.handler"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("make_event", [http_api_v2_event, rest_v1_event, rest_v1_base64])
def test_handler_answers_predict(handler, make_event) -> None:
    response = handler(make_event(json.dumps(PAYLOAD)), Context())
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert 0 <= body["delay_probability"] <= 1
    headers = {k.lower(): v for k, v in response["headers"].items()}
    assert headers["x-cache"] == body["cache"]


@pytest.mark.parametrize("make_event", [http_api_v2_event, rest_v1_event, rest_v1_base64])
def test_handler_rejects_invalid_and_serves_health(handler, make_event) -> None:
    invalid = handler(make_event(json.dumps({**PAYLOAD, "hour": 24})), Context())
    assert invalid["statusCode"] == 422
    assert json.loads(invalid["body"])["detail"][0]["field"] == "hour"
    health = handler(make_event("", path="/health", method="GET"), Context())
    assert health["statusCode"] == 200


def _record_thread(predictions) -> list[bool]:
    """Wrap the model so each call records whether it ran on the event loop's thread."""
    import asyncio

    on_loop: list[bool] = []
    predict_many = predictions.model.predict_many

    def recording(rows):
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return predict_many(rows)

    predictions.model.predict_many = recording
    return on_loop


def test_mangum_runs_blocking_work_inline(handler) -> None:
    """A Lambda container serves one request at a time: no thread-pool hop for a miss."""
    on_loop = _record_thread(importlib.import_module("service.handler").app.state.predictions)
    response = handler(rest_v1_event(json.dumps({**PAYLOAD, "hour": 5})), Context())
    assert json.loads(response["body"])["cache"] == "MISS"
    assert on_loop == [True]


def test_a_server_keeps_its_event_loop_free(artifact_path: Path) -> None:
    from fastapi.testclient import TestClient

    from service.factory import create_app
    from tests.conftest import make_settings

    client = TestClient(create_app(make_settings(artifact_path)))
    on_loop = _record_thread(client.app.state.predictions)
    assert client.post("/predict", json=PAYLOAD).headers["x-cache"] == "MISS"
    assert on_loop == [False]  # the model ran in a worker thread
