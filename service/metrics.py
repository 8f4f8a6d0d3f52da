"""CloudWatch Embedded Metric Format (EMF): per-request metrics as log lines.

`/stats` is per container; in Lambda each request also prints one EMF line per
cache outcome on stdout, which CloudWatch turns into metrics with no API call:
namespace `predcache`, dimensions `Service` and `CacheOutcome`, metrics `Items`
(Count) and `Latency` (Milliseconds). The dashboard in serverless.yml sums them.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import IO

import orjson

NAMESPACE = "predcache"


class EmfMetrics:
    """Writes EMF records; `stream` is injectable for tests."""

    def __init__(self, service: str = "predcache", stream: IO[str] | None = None) -> None:
        self.service = service
        self.stream = stream

    def record(self, route: str, outcomes: Counter[str], latency_ms: float) -> None:
        """One line per outcome present: how many items it answered, and the latency."""
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
                "Route": route,
                "Items": items,
                "Latency": latency_ms,
            }
            stream.write(orjson.dumps(line).decode() + "\n")
        stream.flush()
