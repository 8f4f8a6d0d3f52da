"""One Lambda container in miniature, for `make bench-peer`: a fresh interpreter that
imports a handler once, then answers API Gateway REST events read from stdin.

    python -m stress_test.container predcache|powertools

Protocol: it prints `{"ready": true}` once the handler is imported (the parent times
spawn → ready as init), then for each JSON line `{"method", "path", "body"}` on stdin
one JSON line `{"ms", "status", "cache"}` with the handler's own duration.
"""

from __future__ import annotations

import sys
import time

import orjson

HANDLERS = {
    "predcache": "service.handler",
    "powertools": "stress_test.peer_powertools",
}


class LambdaContext:
    """The attributes handlers read from Lambda's context object."""

    function_name = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 15_000


def rest_event(method: str, path: str, body: str | None) -> dict:
    """An API Gateway REST (v1) proxy event, as the deployed stack sends it."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {"content-type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": path,
            "stage": "bench",
            "requestId": "bench",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def main() -> None:
    import importlib

    channel = sys.stdout  # answers; what the handler prints goes to stderr, as its logs
    sys.stdout = sys.stderr
    handler = importlib.import_module(HANDLERS[sys.argv[1]]).handler
    context = LambdaContext()
    channel.write('{"ready": true}\n')
    channel.flush()
    for line in sys.stdin:
        request = orjson.loads(line)
        body = request.get("body")
        event = rest_event(request["method"], request["path"], body and orjson.dumps(body).decode())
        started = time.perf_counter()
        response = handler(event, context)
        elapsed = time.perf_counter() - started
        answer = orjson.loads(response["body"]) if response.get("body") else {}
        cache = answer.get("cache") if isinstance(answer, dict) else None
        answer = {"ms": elapsed * 1000, "status": response["statusCode"], "cache": cache}
        channel.write(orjson.dumps(answer).decode() + "\n")
        channel.flush()


if __name__ == "__main__":
    main()
