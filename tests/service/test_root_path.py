"""Admission under a path prefix, through real HTTP: `uvicorn --root-path /api`."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.ops.processes import free_port, stop, wait_for_port
from tests.conftest import PAYLOAD

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prefixed(artifact_path: Path) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "CACHE_MODE": "memory", "MODEL_PATH": str(artifact_path),
           "API_KEYS": "secret", "LOG_LEVEL": "WARNING"}  # fmt: skip
    command = [sys.executable, "-m", "uvicorn", "service.app:app", "--host", "127.0.0.1",
               "--port", str(port), "--root-path", "/api"]  # fmt: skip
    server = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        yield port
    finally:
        stop(server)


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def test_key_and_media_type_are_checked_under_a_prefix(prefixed: int) -> None:
    """uvicorn puts the root path into the scope's path (`/api/predict`) for a request
    a proxy forwarded as `/predict`: the route is still `/predict`, and still guarded."""
    path = "/predict"
    body = json.dumps(PAYLOAD).encode()
    json_type = {"content-type": "application/json"}
    assert post(prefixed, path, body, json_type)[0] == 401
    keyed = {"x-api-key": "secret"}
    status, answer = post(prefixed, path, body, keyed | {"content-type": "text/plain"})
    assert status == 415 and answer == {"message": "content-type must be application/json"}
    assert post(prefixed, path, body, keyed | json_type)[0] == 200


def test_health_stays_public_under_a_prefix(prefixed: int) -> None:
    """Matched by its route, not the prefixed path: the one route needing no key."""
    connection = http.client.HTTPConnection("127.0.0.1", prefixed, timeout=10)
    connection.request("GET", "/health")
    assert connection.getresponse().status == 200
