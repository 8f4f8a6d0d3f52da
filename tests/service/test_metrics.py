"""Embedded Metric Format lines, checked against the EMF specification."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import jsonschema
from fastapi.testclient import TestClient

from service.factory import create_app
from service.metrics import EmfMetrics
from tests.conftest import PAYLOAD, make_settings

UNITS = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
]  # fmt: skip
# The structure the EMF specification requires of the `_aws` metadata.
EMF_SCHEMA = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {
                                            "type": "string",
                                            "minLength": 1,
                                            "maxLength": 1024,
                                        },
                                        "Unit": {"enum": UNITS},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def validate_emf(line: str) -> dict:
    """Schema, then the spec's cross-references: members named by the directive exist."""
    record = json.loads(line)
    jsonschema.validate(record, EMF_SCHEMA)
    for directive in record["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for dimension in dimension_set:
                assert isinstance(record[dimension], str), dimension
        for metric in directive["Metrics"]:
            value = record[metric["Name"]]
            assert isinstance(value, int | float) and not isinstance(value, bool), metric
    return record


def test_record_emits_one_valid_line_per_outcome() -> None:
    stream = io.StringIO()
    context = {"route": "/predict/batch", "key": "0123456789ab", "items": 5, "ms": 4.5}
    EmfMetrics("predcache-test", stream).record(Counter({"HIT-L1": 3, "MISS": 2}), context)
    records = [validate_emf(line) for line in stream.getvalue().splitlines()]
    assert {(r["CacheOutcome"], r["Items"]) for r in records} == {("HIT-L1", 3), ("MISS", 2)}
    assert {r["Service"] for r in records} == {"predcache-test"}
    assert all(r["Latency"] == 4.5 and r["Route"] == "/predict/batch" for r in records)
    assert all(r["Key"] == "0123456789ab" and r["RequestItems"] == 5 for r in records)


def test_refreshes_are_counted_on_the_requests_line() -> None:
    stream = io.StringIO()
    context = {"route": "/predict", "key": "0123456789ab", "items": 1, "ms": 1.0}
    refreshes = Counter({"refresh_failed": 1})
    EmfMetrics("predcache-test", stream).record(Counter({"HIT-L2": 1}), context, refreshes)
    (record,) = [validate_emf(line) for line in stream.getvalue().splitlines()]
    assert record["refresh_failed"] == 1


def test_each_request_emits_metrics_when_enabled(artifact_path: Path, capsys) -> None:
    app = create_app(make_settings(artifact_path, emit_metrics=True, metrics_service="svc"))
    client = TestClient(app)
    client.post("/predict", json=PAYLOAD)
    client.post("/predict", json=PAYLOAD)
    client.post("/predict/batch", json={"items": [PAYLOAD, {**PAYLOAD, "hour": 3}]})
    lines = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    records = [validate_emf(line) for line in lines]
    assert [(r["Route"], r["CacheOutcome"], r["Items"]) for r in records] == [
        ("/predict", "MISS", 1),
        ("/predict", "HIT-L1", 1),
        ("/predict/batch", "HIT-L1", 1),
        ("/predict/batch", "MISS", 1),
    ]


def test_no_metrics_unless_enabled(client: TestClient, capsys) -> None:
    client.post("/predict", json=PAYLOAD)
    assert '"_aws"' not in capsys.readouterr().out


def test_a_budget_cut_in_the_queue_is_its_own_metric(artifact_path: Path, capsys) -> None:
    """Under Mangum (one request at a time), a batch whose chunks queue behind each other
    on one L2 worker past the budget: `L2QueueCut` on its line, no table error."""
    from cache import DynamoDBStore
    from stress_test.payloads import unique_payloads
    from tests.cache.test_l2_workers import HealthyTable

    settings = make_settings(artifact_path, cache_mode="tiered", emit_metrics=True,
                             l2_budget_seconds=0.3)  # fmt: skip
    store = DynamoDBStore("t", HealthyTable(), workers=1)  # 40 ms a chunk, one at a time
    app = create_app(settings, inline=True, store=store)
    items = unique_payloads(1000, offset=170_000)  # 10 read chunks: 0.4 s queued
    assert TestClient(app).post("/predict/batch", json={"items": items}).status_code == 200
    lines = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (record,) = [validate_emf(line) for line in lines]
    assert record["L2QueueCut"] == 1
    stats = app.state.predictions.stats()["l2"]
    assert stats["errors"] == {} and stats["queue"]["cut_by_budget"] == 1
