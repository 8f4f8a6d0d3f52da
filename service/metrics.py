"""CloudWatch Embedded Metric Format (EMF): per-request metrics as log lines.

`/stats` is per container; in Lambda each request also prints one EMF line per
cache outcome on stdout (a single request: one line), which CloudWatch turns into
metrics with no API call: namespace `predcache`, dimensions `Service` and
`CacheOutcome`, metrics `Items` (Count) and `Latency` (Milliseconds). The dashboard
in serverless.yml sums them. The line also carries the request's log fields
(`Route`, `Key`, `RequestItems`), so no separate log line is needed.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Mapping
from typing import IO, Any

import orjson

NAMESPACE = "predcache"


class EmfMetrics:
    """Writes EMF records; `stream` is injectable for tests."""

    def __init__(self, service: str = "predcache", stream: IO[str] | None = None) -> None:
        self.service = service
        self.stream = stream

    def record(self, outcomes: Counter[str], context: Mapping[str, Any]) -> None:
        """One line per outcome present: how many items it answered, and the latency.

        `context`: the request's `route`, `key` prefix, `items` and `ms`.
        """
        stream = self.stream or sys.stdout
        timestamp = int(time.time() * 1000)
        for outcome, items in outcomes.items():
            line = {
                "_aws": {
                    "Timestamp": timestamp,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": NAMESPACE,
                            "Dimensions": [["Service", "CacheOutcome"]],
                            "Metrics": [
                                {"Name": "Items", "Unit": "Count"},
                                {"Name": "Latency", "Unit": "Milliseconds"},
                            ],
                        }
                    ],
                },
                "Service": self.service,
                "CacheOutcome": outcome,
                "Route": context["route"],
                "Key": context["key"],
                "RequestItems": context["items"],
                "Items": items,
                "Latency": context["ms"],
            }
            stream.write(orjson.dumps(line).decode() + "\n")
        stream.flush()
