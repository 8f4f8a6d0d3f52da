"""One Lambda container in miniature, for `make bench-peer`: a fresh interpreter that
imports a handler once, then answers API Gateway REST events read from stdin.

    python -m stress_test.bench.harness predcache|powertools

Protocol: it prints `{"ready": true}` once the handler is imported (the parent times
spawn → ready as init), then for each JSON line `{"method", "path", "body"}` on stdin
one JSON line `{"ms", "status", "cache"}` with the handler's own duration.
"""

from __future__ import annotations

import sys
import time

import orjson

from service.ops.lambda_local.events import LambdaContext, rest_v1_event

HANDLERS = {
    "predcache": "service.handler",
    "powertools": "stress_test.bench.peer_powertools",
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
        event = rest_v1_event(body, request["path"], request["method"])
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
