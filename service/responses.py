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


def _item(lookup: Lookup, version: str) -> dict[str, Any]:
    return {
        "delay_probability": lookup.value["delay_probability"],
        "model_version": version,
        "cache": lookup.outcome.value,
        "unknown": lookup.value["unknown"],
    }


def prediction_response(lookup: Lookup, version: str, caching: bool) -> Response:
    headers = {
        "X-Cache": lookup.outcome.value,
        "Cache-Status": cache_status(lookup, caching),
        "Age": str(int(age_seconds(lookup, time.time()))),
    }
    body = orjson.dumps(_item(lookup, version))
    return Response(body, media_type="application/json", headers=headers)


def batch_response(lookups: Sequence[Lookup], version: str) -> Response:
    now = time.time()
    counts = Counter(lookup.outcome for lookup in lookups)
    body = {
        "predictions": [
            _item(lookup, version) | {"age_s": round(age_seconds(lookup, now), 3)}
            for lookup in lookups
        ],
        "cache": {
            "hit_l1": counts[Outcome.HIT_L1],
            "hit_l2": counts[Outcome.HIT_L2],
            "miss": counts[Outcome.MISS],
        },
    }
    return Response(orjson.dumps(body), media_type="application/json")
