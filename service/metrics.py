"""CloudWatch Embedded Metric Format (EMF): per-request metrics as log lines.

`/stats` is per container; in Lambda each request also prints one EMF line per
cache outcome on stdout (a single request: one line), which CloudWatch turns into
metrics with no API call: namespace `predcache`, dimensions `Service` and
`CacheOutcome`, metrics `Items` (Count) and `Latency` (Milliseconds), and on a
request's first line, when there are any, its early refreshes and `L2QueueCut`. The
dashboard in serverless.yml sums them. The line also carries the request's log fields
(`Route`, `Key`, `RequestItems`), so no separate log line is needed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import IO, Any

import orjson

NAMESPACE = "predcache"


class EmfMetrics:
    """Writes EMF records; `stream` is injectable for tests.

    Between `hold()` and `release(facts)` (one Lambda invocation) lines are kept and
    then written with the invocation's facts added, so an invocation prints one
    line whatever it carries (one per outcome for a mixed batch).
    """

    def __init__(self, service: str = "predcache", stream: IO[str] | None = None) -> None:
        self.service = service
        self.stream = stream
        self._held: list[dict[str, Any]] | None = None

    def hold(self) -> None:
        self._held = []

    def release(self, facts: Mapping[str, Any]) -> None:
        """Write the held lines with `facts` added, or `facts` alone if none was held."""
        held, self._held = self._held or [], None
        self._write([line | facts for line in held] or [dict(facts)])

    def record(
        self,
        outcomes: Mapping[str, int],
        context: Mapping[str, Any],
        counts: Mapping[str, int] | None = None,
    ) -> None:
        """One line per outcome present: how many items it answered, and the latency;
        the first line also carries `counts`: early refreshes by what they did (`Refresh`),
        and `L2QueueCut`, the L2 calls the request's budget cut in this process's own
        queue (`/stats` `l2.queue.cut_by_budget`: the cache's limit, not the table's).

        `context`: the request's `route`, `key` prefix, `items` and `ms`.
        """
        timestamp = int(time.time() * 1000)
        lines = [
            self._line(timestamp, outcome, items, context) for outcome, items in outcomes.items()
        ]
        if counts and lines:
            first = lines[0]
            first["_aws"]["CloudWatchMetrics"][0]["Metrics"] += [
                {"Name": kind, "Unit": "Count"} for kind in counts
            ]
            first |= dict(counts)
        if self._held is not None:
            self._held.extend(lines)
        else:
            self._write(lines)

    def _line(
        self, timestamp: int, outcome: str, items: int, context: Mapping[str, Any]
    ) -> dict[str, Any]:
        metrics = [{"Name": "Items", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds"}]
        return {
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [["Service", "CacheOutcome"]],
                        "Metrics": metrics,
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

    def _write(self, lines: list[dict[str, Any]]) -> None:
        stream = self.stream or sys.stdout
        stream.write("".join(orjson.dumps(line).decode() + "\n" for line in lines))
        stream.flush()
