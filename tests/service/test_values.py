"""Cached values are checked on every read, in both tiers: a bad one is a miss,
counted as `corrupt`, recomputed and overwritten; never a failed request."""

from __future__ import annotations

import math

import orjson
import pytest

from cache.dynamodb import KEY_ATTR, TTL_ATTR
from model.flight_delay import FlightDelay, FlightFeatures
from tests.conftest import PAYLOAD, instance

VALUE_SCHEMA = FlightDelay.value_schema


def is_valid(value: object) -> bool:
    return FlightDelay.is_valid(None, value)  # the check reads no instance state


def make_value(probability: float, unknown: list[str]) -> dict:
    return {"delay_probability": probability, "unknown": unknown}


BAD_VALUES = [
    {},
    None,
    {"delay_probability": 2, "unknown": []},
    {"delay_probability": -0.1, "unknown": []},
    {"delay_probability": math.nan, "unknown": []},
    {"delay_probability": "0.3", "unknown": []},
    {"delay_probability": True, "unknown": []},
    {"delay_probability": 0.3},  # an older release's shape: a field missing
    {"delay_probability": 0.3, "unknown": [], "extra": 1},
    {"delay_probability": 0.3, "unknown": ["weather"]},
    [0.3],
]


@pytest.mark.parametrize("value", BAD_VALUES, ids=repr)
def test_only_what_the_service_builds_is_valid(value: object) -> None:
    assert not is_valid(value)


def test_a_computed_value_is_valid() -> None:
    assert is_valid(make_value(0.25, ["carrier"]))
    assert is_valid(make_value(0.0, []))


def _write_item(client, table: str, key: str, value: object, version: str) -> None:
    from time import time

    now = int(time())
    client.put_item(
        TableName=table,
        Item={
            KEY_ATTR: {"S": key},
            "value": {"S": orjson.dumps(value).decode()},
            "model_version": {"S": version},
            "value_schema": {"N": str(VALUE_SCHEMA)},
            "compute_ms": {"N": "1"},
            "created_at": {"N": str(now)},
            TTL_ATTR: {"N": str(now + 3600)},
        },
    )


@pytest.mark.parametrize(
    "value",
    [{}, None, {"delay_probability": 2}, {"delay_probability": 0.3, "unknown": []} | {"x": 1}],
    ids=repr,
)
def test_bad_l2_value_is_a_counted_miss_then_overwritten(
    value: object, artifact_path, moto_endpoint, table
) -> None:
    app = instance(artifact_path, moto_endpoint, table)
    predictions = app.app.state.predictions
    key = predictions.key(FlightFeatures.model_validate(PAYLOAD))
    store = predictions.cache.store
    _write_item(store.client, table, key, value, predictions.version)
    first = app.post("/predict", json=PAYLOAD)
    assert first.status_code == 200
    assert first.headers["x-cache"] == "MISS"
    assert app.get("/stats").json()["l2"]["errors"]["corrupt"] == 1
    assert is_valid(store.get(key).value)  # overwritten with a good value
    fresh = instance(artifact_path, moto_endpoint, table)  # another container
    again = fresh.post("/predict", json=PAYLOAD)
    assert again.headers["x-cache"] == "HIT-L2"
    assert again.json()["delay_probability"] == first.json()["delay_probability"]


def test_bad_l1_value_is_a_counted_miss(artifact_path, moto_endpoint, table) -> None:
    from dataclasses import replace

    app = instance(artifact_path, moto_endpoint, table)
    predictions = app.app.state.predictions
    good = app.post("/predict", json=PAYLOAD).json()
    key = predictions.key(FlightFeatures.model_validate(PAYLOAD))
    memory = predictions.cache.memory
    memory.put(key, replace(memory.get(key), value={"delay_probability": 7}))
    response = app.post("/predict", json=PAYLOAD)
    assert response.status_code == 200
    assert response.headers["x-cache"] == "HIT-L2"  # L1's bad value skipped, L2's good one used
    assert response.json()["delay_probability"] == good["delay_probability"]
    assert app.get("/stats").json()["l1"]["errors"]["corrupt"] == 1
    assert app.post("/predict", json=PAYLOAD).headers["x-cache"] == "HIT-L1"  # L1 refilled


def test_item_of_an_older_value_schema_is_never_served(artifact_path, moto_endpoint, table) -> None:
    """An item written before `value_schema` existed decodes as schema 0: a plain miss."""
    app = instance(artifact_path, moto_endpoint, table)
    predictions = app.app.state.predictions
    key = predictions.key(FlightFeatures.model_validate(PAYLOAD))
    store = predictions.cache.store
    _write_item(store.client, table, key, make_value(0.99, []), predictions.version)
    store.client.update_item(
        TableName=table, Key={KEY_ATTR: {"S": key}}, UpdateExpression="REMOVE value_schema"
    )
    response = app.post("/predict", json=PAYLOAD)
    assert response.headers["x-cache"] == "MISS"
    assert response.json()["delay_probability"] != 0.99
    assert store.get(key).schema == VALUE_SCHEMA
