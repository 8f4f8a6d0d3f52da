"""Every answer says where it came from (`X-Cache`, RFC 9211 `Cache-Status`) and how
old its value is (`Age`; `age_s` per batch item)."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from cache.dynamodb import KEY_ATTR
from model.flight_delay import FlightFeatures
from service.factory import create_app
from tests.conftest import PAYLOAD, instance, make_settings


def test_miss_then_l1_hit(client: TestClient) -> None:
    miss = client.post("/predict", json=PAYLOAD)
    assert miss.headers["cache-status"] == "predcache; fwd=miss; stored"
    assert miss.headers["age"] == "0"
    hit = client.post("/predict", json=PAYLOAD)
    assert hit.headers["x-cache"] == hit.json()["cache"] == "HIT-L1"
    assert hit.headers["cache-status"] == "predcache; hit; detail=L1"


def test_cache_off_is_a_bypass(artifact_path: Path) -> None:
    off = TestClient(create_app(make_settings(artifact_path, cache_mode="off")))
    response = off.post("/predict", json=PAYLOAD)
    assert response.headers["cache-status"] == "predcache; fwd=bypass"
    assert response.headers["x-cache"] == "MISS"


def test_age_counts_from_when_the_value_was_computed(artifact_path, moto_endpoint, table) -> None:
    writer = instance(artifact_path, moto_endpoint, table)
    writer.post("/predict", json=PAYLOAD)
    predictions = writer.app.state.predictions
    key = predictions.key(FlightFeatures.model_validate(PAYLOAD))
    predictions.cache.store.client.update_item(  # computed 100 s ago
        TableName=table,
        Key={KEY_ATTR: {"S": key}},
        UpdateExpression="SET created_at = :t",
        ExpressionAttributeValues={":t": {"N": str(int(time.time()) - 100)}},
    )
    reader = instance(artifact_path, moto_endpoint, table)
    hit = reader.post("/predict", json=PAYLOAD)
    assert hit.headers["cache-status"] == "predcache; hit; detail=L2"
    assert 100 <= int(hit.headers["age"]) <= 105
    batch = reader.post("/predict/batch", json={"items": [PAYLOAD, {**PAYLOAD, "hour": 3}]})
    first, second = batch.json()["predictions"]
    assert first["cache"] == "HIT-L1" and 100 <= first["age_s"] <= 105
    assert second["cache"] == "MISS" and second["age_s"] < 5
