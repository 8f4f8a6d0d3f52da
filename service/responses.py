"""HTTP answers built from cache lookups: the JSON body and the cache headers.

Bodies are serialised straight to bytes (no response-model re-validation: every
value was validated when it was computed or read from a tier). Each answer says
where it came from (`X-Cache`, RFC 9211 `Cache-Status`) and how old it is (`Age`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import Response

from cache import Lookup, Outcome
from cache.outcome import Refresh
from model.contract import Model, rounded_fields

CACHE_NAME = "predcache"  # the cache's name in Cache-Status


def cache_status(lookup: Lookup, caching: bool) -> str:
    """RFC 9211: `hit` with the tier, or why the model ran and whether the result was kept."""
    if lookup.outcome is Outcome.HIT_L1:
        return f"{CACHE_NAME}; hit; detail=L1"
    if lookup.outcome is Outcome.HIT_L2:
        return f"{CACHE_NAME}; hit; detail=L2"
    if not caching:
        return f"{CACHE_NAME}; fwd=bypass"
    detail = "; detail=early-refresh" if lookup.refresh is Refresh.REFRESHED else ""
    return f"{CACHE_NAME}; fwd=miss; stored{detail}"


def age_seconds(lookup: Lookup, now: float) -> float:
    """Seconds since the value was computed."""
    return max(0.0, now - lookup.record.created_at)


class JSONAnswer(Response):
    """A 200 JSON answer whose headers are given as sent (lower-case bytes): Starlette's
    Response would rebuild, encode and lower-case them on every answer, a tenth of an
    L1 hit's own time."""

    media_type = "application/json"

    def __init__(self, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = [(b"content-length", b"%d" % len(body)),
                            (b"content-type", b"application/json"), *headers]  # fmt: skip


class Answers:
    """One model's answers: its value's fields, then `model_version` and `cache`, then its
    `extras`; with the input they were computed for when the model rounds a field."""

    def __init__(self, model: type[Model], version: str, caching: bool) -> None:
        self.version = version
        self.caching = caching
        self.head = [f for f in model.Value.model_fields if f not in model.extras]
        self.tail = list(model.extras)
        self.echo = bool(rounded_fields(model.Request))

    def _item(self, lookup: Lookup, row: dict[str, Any]) -> dict[str, Any]:
        value = lookup.value
        item = {name: value[name] for name in self.head}
        item["model_version"] = self.version
        item["cache"] = lookup.outcome.value
        for name in self.tail:
            item[name] = value[name]
        if self.echo:
            item["input"] = row
        return item

    def one(self, lookup: Lookup, row: dict[str, Any]) -> Response:
        body = orjson.dumps(self._item(lookup, row))
        return JSONAnswer(body, [
            (b"x-cache", lookup.outcome.value.encode()),
            (b"cache-status", cache_status(lookup, self.caching).encode()),
            (b"age", b"%d" % age_seconds(lookup, time.time())),
        ])  # fmt: skip

    def batch(self, lookups: Sequence[Lookup], rows: Sequence[dict[str, Any]]) -> Response:
        now = time.time()
        counts = Counter(lookup.outcome for lookup in lookups)
        body = {
            "predictions": [
                self._item(lookup, row) | {"age_s": round(age_seconds(lookup, now), 3)}
                for lookup, row in zip(lookups, rows, strict=True)
            ],
            "cache": {outcome.field: counts[outcome] for outcome in Outcome},
        }
        return Response(orjson.dumps(body), media_type="application/json")
