"""SnapStart runtime hooks, run in-process as the runtime would: before the snapshot,
then after a restore; each promise of `service.snapstart` checked."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import snapshot_restore_py
from mangum import Mangum

from cache import CacheRecord
from service.factory import create_app
from service.invocation import InstrumentedHandler
from service.snapstart import register
from stress_test.bench.events import LambdaContext, http_api_v2_event
from tests.conftest import PAYLOAD, instance, make_settings


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])
    yield


def run_hooks(registry: list) -> None:
    for function, args, kwargs in registry:
        function(*args, **kwargs)


@pytest.fixture
def snapshotted(artifact_path: Path, moto_endpoint: str, table: str, tmp_path: Path):
    """A tiered container whose table holds the example's entry, registered, before its
    snapshot hook ran with the example as its preload file."""
    instance(artifact_path, moto_endpoint, table).post("/predict", json=PAYLOAD)  # into L2
    preload = tmp_path / "hot.jsonl"
    preload.write_text(json.dumps(PAYLOAD) + "\n")
    settings = make_settings(artifact_path, cache_mode="tiered", dynamodb_endpoint=moto_endpoint,
                             cache_table=table, snapstart_preload_file=preload)  # fmt: skip
    app = create_app(settings, inline=True)
    handler = InstrumentedHandler(app, Mangum(app, lifespan="off"), time.perf_counter())
    register(handler, settings)
    run_hooks(snapshot_restore_py._before_snapshot_registry)
    return handler


def test_the_snapshot_holds_the_model_and_the_hot_entries(snapshotted) -> None:
    predictions = snapshotted.predictions
    assert predictions.artifact.loaded
    assert len(predictions.cache.memory) == 1
    answer = snapshotted(http_api_v2_event(PAYLOAD), LambdaContext())
    assert json.loads(answer["body"])["cache"] == "HIT-L1"


def test_a_restore_renews_what_copies_must_not_share(snapshotted) -> None:
    cache = snapshotted.predictions.cache
    before = (snapshotted.id, cache.store, cache.store.client, cache.breaker, cache.refresh.rng)
    for _ in range(cache.breaker.threshold):  # the snapshot's breaker is open
        cache.breaker.failure(cache.breaker.allow())
    random.seed(7)
    state = random.getstate()
    old = CacheRecord({"p": 1}, "v", time.time() - 10 * 300, time.time() + 60, 1)
    cache.memory.put("old-entry", old)  # computed long before this restore
    run_hooks(snapshot_restore_py._after_restore_registry)
    after = (snapshotted.id, cache.store, cache.store.client, cache.breaker, cache.refresh.rng)
    assert all(a is not b for a, b in zip(before, after, strict=True))
    assert snapshotted.id != before[0] and snapshotted.invocations == 0
    assert random.getstate() != state and cache.breaker.state == "closed"
    assert cache.memory.get("old-entry") is None and len(cache.memory) == 1  # the hot one
    answer = snapshotted(http_api_v2_event(PAYLOAD), LambdaContext())
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["cache"] == "HIT-L1"


def test_a_failed_restore_leaves_the_container_refusing(
    snapshotted, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import service.snapstart

    def broken(settings):
        raise RuntimeError("no route to DynamoDB")

    monkeypatch.setattr(service.snapstart, "build_store", broken)
    capsys.readouterr()
    with pytest.raises(RuntimeError):
        run_hooks(snapshot_restore_py._after_restore_registry)
    logged = [line for line in capsys.readouterr().err.splitlines() if "restore failed" in line]
    assert len(logged) == 1 and "no route to DynamoDB" in logged[0]
    answer = snapshotted(http_api_v2_event(PAYLOAD), LambdaContext())
    assert answer["statusCode"] == 503
    assert "restore failed" in json.loads(answer["body"])["message"]
