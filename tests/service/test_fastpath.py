"""POST /predict answered before the router (service/fastpath.py), from bodies kept
parsed (service/routes.py): the same answers as the route's, nothing invalid kept."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from service import routes
from service.factory import create_app
from service.fastpath import FastPath
from tests.conftest import PAYLOAD, make_settings


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bodies POST /predict parsed, in order."""
    seen: list[bytes] = []
    parse = routes.parse_body

    def counted(model, body: bytes):
        seen.append(body)
        return parse(model, body)

    monkeypatch.setattr(routes, "parse_body", counted)
    return seen


def post(client: TestClient, body: bytes):
    return client.post("/predict", content=body, headers={"content-type": "application/json"})


def test_a_body_sent_again_is_not_parsed_again(client: TestClient, parses: list[bytes]) -> None:
    body = orjson.dumps(PAYLOAD)
    first, second = post(client, body), post(client, body)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT-L1")
    assert second.json() == first.json() | {"cache": "HIT-L1"}
    assert parses == [body]
    # the same request in other bytes is parsed, and keyed as the same request
    spaced = json.dumps(PAYLOAD, indent=2).encode()
    assert post(client, spaced).headers["x-cache"] == "HIT-L1"
    assert parses == [body, spaced]


def test_an_invalid_body_is_refused_each_time_and_never_kept(
    client: TestClient, parses: list[bytes]
) -> None:
    body = orjson.dumps(PAYLOAD | {"distance": -5})
    for _ in range(2):
        refused = post(client, body)
        assert refused.status_code == 422
        assert [p["field"] for p in refused.json()["detail"]] == ["distance"]
    # the route parses what the fast path refused: twice a request, never kept
    assert parses == [body] * 4


def test_a_large_body_is_answered_but_not_kept(client: TestClient, parses: list[bytes]) -> None:
    body = orjson.dumps(PAYLOAD)[:-1] + b" " * routes.KNOWN_BODY_MAX_BYTES + b"}"
    assert [post(client, body).headers["x-cache"] for _ in range(2)] == ["MISS", "HIT-L1"]
    assert parses == [body, body]


def test_the_fast_path_answers_as_the_route_does(artifact_path: Path) -> None:
    """The same app with and without the fast path: the same statuses, headers and
    bodies, for a miss, a hit, a refusal and a malformed body."""
    answers = []
    for fast in (True, False):
        app = create_app(make_settings(artifact_path))
        if not fast:
            app.user_middleware = [m for m in app.user_middleware if m.cls is not FastPath]
        client = TestClient(app)
        bodies = [orjson.dumps(PAYLOAD)] * 2 + [b'{"carrier": 7}', b"{not json"]
        answers.append([
            (r.status_code, {k: v for k, v in r.headers.items() if k != "age"}, r.content)
            for r in (post(client, body) for body in bodies)
        ])  # fmt: skip
    assert answers[0] == answers[1]
    assert [status for status, _, _ in answers[0]] == [200, 200, 422, 422]
