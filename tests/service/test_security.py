"""Hostile input, API keys and cache poisoning: 4xx for everything bad, nothing cached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cache import make_client
from cache.dynamodb import KEY_ATTR
from service.factory import create_app
from tests.conftest import PAYLOAD, instance, make_settings
from tests.dynamo import count_items

JSON = {"content-type": "application/json"}


HOSTILE = {
    "malformed JSON": (b'{"carrier": "UA",', JSON),
    "trailing garbage": (b'{"carrier": "UA"} xx', JSON),
    "JSON array": (b"[1, 2, 3]", JSON),
    "JSON string": (b'"UA"', JSON),
    "empty body": (b"", JSON),
    "text/plain": (b'{"carrier": "UA"}', {"content-type": "text/plain"}),
    "form": (b"carrier=UA&origin=EWR", {"content-type": "application/x-www-form-urlencoded"}),
    "no content type": (b'{"carrier": "UA"}', {}),
    "huge body": (b'{"carrier": "' + b"A" * 1_000_000 + b'"}', JSON),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, JSON),
    "nested object field": (
        b'{"carrier": {"a": {"b": {"c": 1}}}, "origin": "EWR", "dest": "ORD", "month": 1,'
        b' "day": 1, "weekday": 1, "hour": 1}',
        JSON,
    ),
    "non-UTF-8": (b'{"carrier": "\xff\xfe", "origin": "EWR"}', JSON),
    "NaN": (b'{"carrier":"UA","origin":"EWR","dest":"ORD","month":NaN,"day":1,"weekday":1,'
            b'"hour":1}', JSON),
    "Infinity": (b'{"carrier":"UA","origin":"EWR","dest":"ORD","month":1,"day":1,"weekday":1,'
                 b'"hour":Infinity}', JSON),
    "huge integer": (b'{"carrier":"UA","origin":"EWR","dest":"ORD","month":1,"day":1,'
                     b'"weekday":1,"hour":' + b"9" * 5000 + b"}", JSON),
    "unicode lookalike": ('{"carrier":"\uff35\uff21","origin":"EWR","dest":"ORD","month":1,"day":1,'
                          '"weekday":1,"hour":1}'.encode(), JSON),
    "null fields": (b'{"carrier":null,"origin":null,"dest":null,"month":null,"day":null,'
                    b'"weekday":null,"hour":null}', JSON),
    "client-chosen key": (b'{"carrier":"UA","origin":"EWR","dest":"ORD","month":1,"day":1,'
                          b'"weekday":1,"hour":1,"cache_key":"x","delay_probability":1}', JSON),
}  # fmt: skip


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_hostile_bodies_get_4xx_and_write_nothing(
    path: str, artifact_path: Path, moto_endpoint: str, table: str
) -> None:
    client = instance(artifact_path, moto_endpoint, table)
    dynamo = make_client(endpoint_url=moto_endpoint)
    before = count_items(dynamo, table)
    for name, (body, headers) in HOSTILE.items():
        response = client.post(path, content=body, headers=headers)
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
        if response.status_code == 422:
            assert response.json()["message"], name
    huge_batch = client.post(path, json={"items": [PAYLOAD] * 5_000})
    assert huge_batch.status_code in (413, 422)
    assert count_items(dynamo, table) == before == 0
    stats = client.get("/stats").json()
    assert stats["model"]["rows"] == 0 and stats["l2"]["latency"]["calls"] == 0


def test_field_errors_name_the_field_and_do_not_echo_input(client: TestClient) -> None:
    secret = "<script>alert(1)</script>"
    response = client.post("/predict", json={**PAYLOAD, "carrier": secret})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "carrier"
    assert secret not in response.text


def test_the_client_cannot_choose_key_or_value(
    artifact_path: Path, moto_endpoint: str, table: str
) -> None:
    """The stored item is keyed and valued by the server alone."""
    client = instance(artifact_path, moto_endpoint, table)
    response = client.post(
        "/predict", json=PAYLOAD, headers={"x-cache": "HIT-L1", "x-cache-key": "chosen"}
    )
    assert response.headers["x-cache"] == "MISS"
    items = make_client(endpoint_url=moto_endpoint).scan(TableName=table)["Items"]
    predictions = client.app.state.predictions
    from model.flight_delay import FlightFeatures

    assert [i[KEY_ATTR]["S"] for i in items] == [predictions.key(FlightFeatures(**PAYLOAD))]
    assert (
        response.json()["delay_probability"]
        == predictions.model.predict_many([PAYLOAD])[0]["delay_probability"]
    )


@pytest.fixture
def keyed(artifact_path: Path) -> TestClient:
    settings = make_settings(artifact_path, api_keys=frozenset({"key-one", "key-two"}))
    return TestClient(create_app(settings))


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_api_keys_guard_predict_routes(keyed: TestClient, path: str) -> None:
    body = PAYLOAD if path == "/predict" else {"items": [PAYLOAD]}
    for headers in ({}, {"x-api-key": "wrong"}, {"x-api-key": ""}, {"x-api-key": "key-one "}):
        response = keyed.post(path, json=body, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"message": "missing or invalid API key (send it as x-api-key)"}
    for key in ("key-one", "key-two"):
        assert keyed.post(path, json=body, headers={"x-api-key": key}).status_code == 200


def test_auth_comes_before_validation_and_health_stays_open(keyed: TestClient) -> None:
    assert keyed.post("/predict", json={"bad": 1}).status_code == 401
    assert keyed.get("/health").status_code == 200
    assert (
        keyed.post("/predict", json={"bad": 1}, headers={"x-api-key": "key-two"}).status_code == 422
    )


def test_every_route_but_health_needs_the_key_fail_closed(keyed: TestClient) -> None:
    for path in ("/stats", "/docs", "/openapi.json", "/no-such-route"):
        assert keyed.get(path).status_code == 401, path
    assert keyed.get("/stats", headers={"x-api-key": "key-one"}).status_code == 200
    assert keyed.get("/health").status_code == 200


def test_several_key_or_length_headers_are_refused(keyed: TestClient) -> None:
    twice = [("x-api-key", "key-one"), ("x-api-key", "key-two")]
    response = keyed.post("/predict", json=PAYLOAD, headers=twice)
    assert response.status_code == 400 and "x-api-key" in response.json()["message"]


def raw_post(app, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, dict]:
    """One request straight into the ASGI app, headers exactly as given (an HTTP client
    would merge or refuse repeated ones)."""
    import asyncio

    scope = {"type": "http", "method": "POST", "path": "/predict", "root_path": "",
             "headers": headers, "query_string": b"", "http_version": "1.1",
             "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1)}  # fmt: skip
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(payload)


@pytest.mark.parametrize(
    ("name", "values"),
    [(b"content-length", (b"%d", b"%d")), (b"content-type", (b"application/json", b"text/csv"))],
)
def test_a_repeated_length_or_type_header_is_refused(
    client: TestClient, name: bytes, values: tuple[bytes, bytes]
) -> None:
    body = json.dumps(PAYLOAD).encode()
    once = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    assert raw_post(client.app, once, body)[0] == 200
    repeated = [h for h in once if h[0] != name]
    repeated += [(name, v % len(body) if b"%d" in v else v) for v in values]
    status, answer = raw_post(client.app, repeated, body)
    assert status == 400 and name.decode() in answer["message"]
