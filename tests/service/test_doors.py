"""Each front door's event, answered by the Lambda handler (deploy/front.js builds the
doors): REST API (v1 events), HTTP API and function URL (payload 2.0). On the http and
url doors nothing in front checks a key, so the app's API_KEYS does."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from mangum import Mangum

from service.factory import create_app
from service.ops.lambda_local.events import LambdaContext, http_api_v2_event, rest_v1_event
from tests.conftest import PAYLOAD, make_settings

KEY = "door-test-key"
QUERY = [(name, str(value)) for name, value in PAYLOAD.items()]


def function_url_event(body: object, path: str = "/predict", method: str = "POST", **kw) -> dict:
    """A Lambda function URL's event: payload 2.0 with the URL's own domain and routeKey
    (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html, read 2026-12-01)."""
    event = http_api_v2_event(body, path, method, **kw)
    domain = "abcdefghij.lambda-url.us-east-1.on.aws"
    event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
    event["headers"]["host"] = event["requestContext"]["domainName"] = domain
    event["requestContext"]["apiId"] = "abcdefghij"
    return event


DOORS: dict[str, Callable[..., dict]] = {
    "rest": rest_v1_event,
    "http": http_api_v2_event,
    "url": function_url_event,
}


def with_key(event: dict, key: str | None) -> dict:
    if key is not None:
        event["headers"]["x-api-key"] = key
        if "multiValueHeaders" in event:
            event["multiValueHeaders"]["x-api-key"] = [key]
    return event


@pytest.mark.parametrize("door", DOORS)
def test_each_door_answers_post_and_get_from_one_entry(artifact_path: Path, door: str) -> None:
    handler = Mangum(create_app(make_settings(artifact_path), inline=True), lifespan="off")
    build = DOORS[door]
    posted = handler(build(json.dumps(PAYLOAD)), LambdaContext())
    got = handler(build(None, method="GET", query=QUERY), LambdaContext())
    assert (posted["statusCode"], got["statusCode"]) == (200, 200), got["body"]
    first, second = json.loads(posted["body"]), json.loads(got["body"])
    assert (first["cache"], second["cache"]) == ("MISS", "HIT-L1")
    assert {**first, "cache": None} == {**second, "cache": None}


@pytest.mark.parametrize("door", DOORS)
def test_the_apps_key_check_guards_a_door_with_none_in_front(
    artifact_path: Path, door: str
) -> None:
    settings = make_settings(artifact_path, api_keys=frozenset({KEY}))
    handler = Mangum(create_app(settings, inline=True), lifespan="off")
    build = DOORS[door]
    refused = handler(with_key(build(json.dumps(PAYLOAD)), None), LambdaContext())
    wrong = handler(with_key(build(json.dumps(PAYLOAD)), "guess"), LambdaContext())
    answered = handler(with_key(build(json.dumps(PAYLOAD)), KEY), LambdaContext())
    health = handler(build(None, "/health", "GET"), LambdaContext())
    assert (refused["statusCode"], wrong["statusCode"]) == (401, 401)
    assert "x-api-key" in json.loads(refused["body"])["message"]
    assert (answered["statusCode"], health["statusCode"]) == (200, 200)


@pytest.mark.parametrize("door", DOORS)
def test_head_answers_where_get_does_with_headers_and_no_body(artifact_path: Path, door) -> None:
    """HEAD is GET without the body (service/head.py), key check and all; a path without
    GET refuses it with the methods it takes."""
    settings = make_settings(artifact_path, api_keys=frozenset({KEY}))
    handler = Mangum(create_app(settings, inline=True), lifespan="off")
    build = DOORS[door]
    for _ in range(2):  # the second a hit, as the HEAD will be
        got = handler(with_key(build(None, method="GET", query=QUERY), KEY), LambdaContext())
    head = handler(with_key(build(None, method="HEAD", query=QUERY), KEY), LambdaContext())
    assert (got["statusCode"], head["statusCode"]) == (200, 200)
    assert head["body"] == "" and head["headers"]["x-cache"] == "HIT-L1"
    assert head["headers"]["content-length"] == got["headers"]["content-length"]
    keyless = handler(build(None, method="HEAD", query=QUERY), LambdaContext())
    assert (keyless["statusCode"], keyless["body"]) == (401, "")
    health = handler(build(None, "/health", "HEAD"), LambdaContext())
    assert (health["statusCode"], health["body"]) == (200, "")
    batch = handler(with_key(build(None, "/predict/batch", "HEAD"), KEY), LambdaContext())
    assert batch["statusCode"] == 405 and batch["headers"]["allow"] == "POST"
