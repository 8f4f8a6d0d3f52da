"""Service instances over a moto server on 127.0.0.1: the read path end to end."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from cache import make_client
from service.factory import create_app
from tests.conftest import PAYLOAD, instance, make_settings
from tests.dynamo import Faults, count_items, silent_endpoint


def test_second_instance_answers_from_l2(artifact_path, moto_endpoint, table) -> None:
    first = instance(artifact_path, moto_endpoint, table)
    second = instance(artifact_path, moto_endpoint, table)
    miss = first.post("/predict", json=PAYLOAD)
    assert miss.headers["x-cache"] == "MISS"
    l2 = second.post("/predict", json={**PAYLOAD, "carrier": "ua"})
    assert l2.headers["x-cache"] == "HIT-L2"
    assert second.post("/predict", json=PAYLOAD).headers["x-cache"] == "HIT-L1"
    assert l2.json()["delay_probability"] == miss.json()["delay_probability"]
    stats = second.get("/stats").json()
    assert stats["l2"]["hits"] == 1 and stats["l1"]["hits"] == 1
    assert stats["model"]["rows"] == 0
    assert stats["outcomes"] == {"HIT-L2": 1, "HIT-L1": 1}
    item_count = count_items(make_client(endpoint_url=moto_endpoint), table)
    assert item_count == 1


def test_cached_probability_equals_uncached(artifact_path, moto_endpoint, table) -> None:
    cached = instance(artifact_path, moto_endpoint, table)
    cached.post("/predict", json=PAYLOAD)
    uncached = TestClient(create_app(make_settings(artifact_path, cache_mode="off")))
    off = uncached.post("/predict", json=PAYLOAD).json()
    assert off["cache"] == "MISS"
    assert instance(artifact_path, moto_endpoint, table).post("/predict", json=PAYLOAD).json()[
        "delay_probability"
    ] == pytest.approx(off["delay_probability"], abs=0)


def test_new_model_version_never_reads_old_entries(artifact_path, moto_endpoint, table, tmp_path):
    from model.flight_delay.train import train

    instance(artifact_path, moto_endpoint, table).post("/predict", json=PAYLOAD)
    newer = tmp_path / "newer.pkl"
    train(newer, sample=20_000)
    response = instance(newer, moto_endpoint, table).post("/predict", json=PAYLOAD)
    assert response.headers["x-cache"] == "MISS"
    assert (
        response.json()["model_version"]
        != instance(artifact_path, moto_endpoint, table).get("/health").json()["model_version"]
    )


def test_unreachable_table_still_answers_within_bound(artifact_path, aws_env) -> None:
    with silent_endpoint() as endpoint:
        client = instance(
            artifact_path, endpoint, "down", l2_timeout_seconds=0.2, l2_max_attempts=1
        )
        started = time.perf_counter()
        responses = [client.post("/predict", json={**PAYLOAD, "hour": h}) for h in range(8)]
        elapsed = time.perf_counter() - started
        stats = client.get("/stats").json()
    assert [r.status_code for r in responses] == [200] * 8
    assert {r.headers["x-cache"] for r in responses} == {"MISS"}
    # 5 timeouts (read+write of 2 requests, then 1) open the circuit; the rest skip L2
    assert stats["l2"]["errors"]["timeout"] == 5
    assert stats["l2"]["errors"]["circuit_open"] > 0
    assert stats["l2_circuit"] == "open"
    assert elapsed < 5.0


def test_throttled_table_still_answers(artifact_path, moto_endpoint, table) -> None:
    client = instance(artifact_path, moto_endpoint, table)
    predictions = client.app.state.predictions
    Faults(predictions.cache.store.client, "ThrottlingException")
    response = client.post("/predict", json=PAYLOAD)
    assert response.status_code == 200
    assert response.headers["x-cache"] == "MISS"
    errors = client.get("/stats").json()["l2"]["errors"]
    assert errors["throttled"] == 1  # the read; a lookup whose read failed does not write
    assert errors["write_skipped"] == 1
