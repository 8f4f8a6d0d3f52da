"""One cold Lambda container in miniature: import the handler, answer one event, report.

Run by `stress_test.bench.cold` in a fresh interpreter; prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

started = time.perf_counter()


def main() -> None:
    from service.handler import handler
    from stress_test.bench.events import http_api_v2_event

    imported = time.perf_counter()
    response = handler(http_api_v2_event(json.loads(sys.argv[1])), None)
    answered = time.perf_counter()
    body = json.loads(response["body"])
    print(
        json.dumps(
            {
                "status": response["statusCode"],
                "cache": body.get("cache"),
                "delay_probability": body.get("delay_probability"),
                "model_version": body.get("model_version"),
                "init_s": imported - started,
                "first_request_s": answered - imported,
                "sklearn_imported": "sklearn" in sys.modules,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
