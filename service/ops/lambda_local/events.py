"""API Gateway events and the Lambda context, as AWS hands them to the handler: the one
home of these shapes for the benches, the container harness and the tests."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import orjson


class LambdaContext:
    """The attributes handlers read from Lambda's context object."""

    function_name = "predcache"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:predcache"
    aws_request_id = "req"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 15_000


def _text(body: Any) -> str | None:
    """A body as the event carries it: JSON text (`str` bodies pass as they are)."""
    if body is None or isinstance(body, str):
        return body
    return orjson.dumps(body).decode()


Query = Sequence[tuple[str, str]]


def http_api_v2_event(
    body: Any, path: str = "/predict", method: str = "POST", *, query: Query = ()
) -> dict:
    """An API Gateway HTTP API (v2) event; `query` as the pairs a client sent."""
    grouped: dict[str, list[str]] = {}
    for name, value in query:
        grouped.setdefault(name, []).append(value)
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(list(query)),
        **(
            {"queryStringParameters": {k: ",".join(v) for k, v in grouped.items()}} if query else {}
        ),
        "headers": {"content-type": "application/json", "host": "abc.execute-api.aws"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc",
            "domainName": "abc.execute-api.aws",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "predcache",
            },
            "requestId": "req-1",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "timeEpoch": 1_795_000_000_000,
        },
        "body": _text(body),
        "isBase64Encoded": False,
    }


def rest_v1_event(
    body: Any,
    path: str = "/predict",
    method: str = "POST",
    *,
    base64_body: bool = False,
    query: Query = (),
) -> dict:
    """An API Gateway REST (v1) proxy event, as the deployed stack sends it (stage `prd`,
    an API key); `base64_body` encodes the body as API Gateway does for binary types;
    `query` as the pairs a client sent."""
    grouped: dict[str, list[str]] = {}
    for name, value in query:
        grouped.setdefault(name, []).append(value)
    text = _text(body)
    if base64_body and text is not None:
        text = base64.b64encode(text.encode()).decode()
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {"content-type": ["application/json"]},
        "queryStringParameters": {k: v[-1] for k, v in grouped.items()} or None,
        "multiValueQueryStringParameters": grouped or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/prd{path}",
            "stage": "prd",
            "requestId": "req",
            "identity": {"sourceIp": "203.0.113.7", "apiKey": "k"},
        },
        "body": text,
        "isBase64Encoded": base64_body,
    }
