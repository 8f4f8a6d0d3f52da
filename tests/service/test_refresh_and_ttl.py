"""Read-path promises through HTTP on a moto table: a failed early refresh answers the
cached value, and no record is used past this deployment's CACHE_TTL_SECONDS."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from cache import CacheRecord, DynamoDBStore
from model.artifact import manifest_path_for
from model.flight_delay import FlightDelay, FlightFeatures
from service.ops.local import local_client
from tests.conftest import PAYLOAD, instance

VALUE_SCHEMA = FlightDelay.value_schema


def put_record(app, endpoint: str, table: str, age: float, lives: float, ms: float) -> None:
    """The example payload's L2 record, `age` seconds old, expiring in `lives` seconds."""
    predictions = app.app.state.predictions
    key = predictions.key(FlightFeatures.model_validate(PAYLOAD))
    now = time.time()
    value = {"delay_probability": 0.125, "unknown": []}
    record = CacheRecord(
        value, predictions.version, now - age, now + lives, VALUE_SCHEMA, compute_ms=ms
    )
    DynamoDBStore(table, local_client(endpoint)).put(key, record)


def test_a_failed_early_refresh_answers_the_cached_value(
    artifact_path: Path, tmp_path: Path, moto_endpoint: str, table: str
) -> None:
    copy = tmp_path / "flight_delay.pkl"
    shutil.copy(artifact_path, copy)
    shutil.copy(manifest_path_for(artifact_path), manifest_path_for(copy))
    # beta 10 and a 100 min compute: a record 5 s from expiry is due for refresh unless
    # XFetch's draw is above 0.9999 (with a 60 s compute, 1 run in 120 was not due)
    app = instance(copy, moto_endpoint, table, early_refresh_beta=10.0, model_path=copy)
    put_record(app, moto_endpoint, table, age=100, lives=5, ms=6_000_000)
    copy.write_bytes(b"swapped")  # the refresh's first model load now fails
    response = app.post("/predict", json=PAYLOAD)
    assert response.status_code == 200
    assert response.json()["delay_probability"] == 0.125 and response.json()["cache"] == "HIT-L2"
    stats = app.get("/stats").json()
    assert stats["refresh"] == {"refreshed": 0, "refresh_lost": 0, "refresh_failed": 1}
    assert stats["l2"]["hits"] == 1 and stats["l2"]["misses"] == 0
    other = app.post("/predict", json={**PAYLOAD, "hour": 6})  # nothing cached: the error
    assert other.status_code == 503


def test_a_record_older_than_the_ttl_is_not_served(
    artifact_path: Path, moto_endpoint: str, table: str
) -> None:
    app = instance(artifact_path, moto_endpoint, table, cache_ttl_seconds=60)
    put_record(app, moto_endpoint, table, age=120, lives=3_600, ms=1.0)  # a 24 h TTL's item
    first = app.post("/predict", json=PAYLOAD)
    assert first.headers["x-cache"] == "MISS"
    stats = app.get("/stats").json()
    assert stats["l2"]["misses"] == 1 and stats["refresh"]["refreshed"] == 0  # not a hit
    fresh = instance(artifact_path, moto_endpoint, table, cache_ttl_seconds=60)
    again = fresh.post("/predict", json=PAYLOAD)  # the rewritten record, read from L2
    assert again.headers["x-cache"] == "HIT-L2" and int(again.headers["age"]) <= 60
