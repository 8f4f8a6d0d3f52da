"""The flight-delay model as the contract's first user: what a client or a warmed
table saw before the contract existed is what it sees now."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from cache import make_key
from cache.dynamodb import KEY_ATTR, TTL_ATTR
from model.flight_delay import EXAMPLE, FlightDelay
from tests.conftest import instance

# Computed by the release before the model contract (24099a3), for this version string.
PREVIOUS_RELEASE_KEY = "59813c4c47ae5d2cdd710ec8d9d91604c123e6daff7ee41fae01c80da51702c0"


def test_keys_are_the_previous_releases() -> None:
    canonical = FlightDelay.Request(**{**EXAMPLE, "carrier": "ua"}).model_dump()
    key = make_key(FlightDelay.name, "0123456789ab", canonical, schema=FlightDelay.value_schema)
    assert key == PREVIOUS_RELEASE_KEY


def test_a_table_warmed_by_the_previous_release_still_answers(
    artifact_path: Path, moto_endpoint: str, table: str
) -> None:
    """An item exactly as the previous release wrote it (every attribute, by hand) is a
    HIT-L2 with the same body."""
    client = instance(artifact_path, moto_endpoint, table)
    predictions = client.app.state.predictions
    canonical = {"carrier": "UA", "origin": "EWR", "dest": "ORD", "month": 12, "day": 24,
                 "weekday": 2, "hour": 17}  # fmt: skip
    key = make_key("flight-delay", predictions.version, canonical, schema=1)
    now = time.time()
    item = {
        KEY_ATTR: {"S": key},
        "value": {"S": orjson.dumps({"delay_probability": 0.125, "unknown": []}).decode()},
        "model_version": {"S": predictions.version},
        "value_schema": {"N": "1"},
        "compute_ms": {"N": "9.5"},
        "created_at": {"N": str(round(now, 3))},
        TTL_ATTR: {"N": str(int(now) + 3600)},
    }
    predictions.cache.store.client.put_item(TableName=table, Item=item)
    response = client.post("/predict", json=EXAMPLE)
    assert response.headers["x-cache"] == "HIT-L2"
    assert response.json() == {"delay_probability": 0.125, "model_version": predictions.version,
                               "cache": "HIT-L2", "unknown": []}  # fmt: skip
    assert list(response.json()) == ["delay_probability", "model_version", "cache", "unknown"]
