"""POST /predict/batch over a moto server: order, duplicates, tiers, batching limits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient

from stress_test.payloads import unique_payloads
from tests.conftest import PAYLOAD, instance
from tests.dynamo import silent_endpoint


def count_calls(client: TestClient) -> Counter:
    """Count DynamoDB operations the app's own client makes."""
    calls: Counter = Counter()
    dynamo = client.app.state.predictions.cache.store.client
    dynamo.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.update([model.name])
    )
    return calls


def test_order_duplicates_and_totals(artifact_path: Path, moto_endpoint: str, table: str) -> None:
    client = instance(artifact_path, moto_endpoint, table)
    single = client.post("/predict", json=PAYLOAD).json()
    items = [PAYLOAD, {**PAYLOAD, "hour": 6}, {**PAYLOAD, "hour": 6}, {**PAYLOAD, "carrier": "ZZ"}]
    body = client.post("/predict/batch", json={"items": items}).json()
    predictions = body["predictions"]
    assert [p["cache"] for p in predictions] == ["HIT-L1", "MISS", "MISS", "MISS"]
    assert body["cache"] == {"hit_l1": 1, "hit_l2": 0, "miss": 3}
    assert predictions[0]["delay_probability"] == single["delay_probability"]
    assert predictions[1] == predictions[2]
    assert predictions[3]["unknown"] == ["carrier"]
    stats = client.get("/stats").json()
    assert stats["model"]["rows"] == 3  # the single request, then 2 unique misses
    assert stats["model"]["latency"]["calls"] == 2  # one vectorised call for the batch


def test_partial_l2_hits_across_many_keys(
    artifact_path: Path, moto_endpoint: str, table: str
) -> None:
    items = unique_payloads(250)
    writer = instance(artifact_path, moto_endpoint, table)
    written = count_calls(writer)
    assert writer.post("/predict/batch", json={"items": items[:225]}).status_code == 200
    assert written["BatchWriteItem"] == 9  # 225 items, 25 per call
    reader = instance(artifact_path, moto_endpoint, table)
    read = count_calls(reader)
    body = reader.post("/predict/batch", json={"items": items}).json()
    assert body["cache"] == {"hit_l1": 0, "hit_l2": 225, "miss": 25}
    assert [p["cache"] for p in body["predictions"][224:226]] == ["HIT-L2", "MISS"]
    assert read["BatchGetItem"] == 3  # 250 keys, 100 per call
    assert read["BatchWriteItem"] == 1
    again = reader.post("/predict/batch", json={"items": items}).json()
    assert again["cache"] == {"hit_l1": 250, "hit_l2": 0, "miss": 0}


def test_unprocessed_keys_forever_still_answers(
    artifact_path: Path, moto_endpoint: str, table: str
) -> None:
    client = instance(artifact_path, moto_endpoint, table)
    store = client.app.state.predictions.cache.store
    store.backoff_seconds = 0.001
    store.client.batch_get_item = lambda **kw: {
        "Responses": {},
        "UnprocessedKeys": kw["RequestItems"],
    }
    body = client.post("/predict/batch", json={"items": unique_payloads(3)}).json()
    assert body["cache"]["miss"] == 3
    assert client.get("/stats").json()["l2"]["errors"]["unprocessed"] == 3


def test_table_down_batch_degrades_to_model(artifact_path: Path, aws_env: None) -> None:
    with silent_endpoint() as endpoint:
        client = instance(
            artifact_path, endpoint, "down", l2_timeout_seconds=0.2, l2_max_attempts=1
        )
        response = client.post("/predict/batch", json={"items": unique_payloads(40)})
    assert response.status_code == 200
    assert response.json()["cache"]["miss"] == 40


def test_batch_limits(client: TestClient) -> None:
    too_many = client.post("/predict/batch", json={"items": [PAYLOAD] * 1001})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["field"] == "items"
    assert client.post("/predict/batch", json={"items": []}).status_code == 422
    bad_item = client.post("/predict/batch", json={"items": [PAYLOAD, {**PAYLOAD, "hour": 99}]})
    assert bad_item.json()["detail"][0]["field"] == "items.1.hour"
    assert client.post("/predict/batch", json={"items": [PAYLOAD] * 1000}).status_code == 200
    huge = client.post("/predict/batch", json={"items": [PAYLOAD] * 10_000})
    assert huge.status_code == 413
