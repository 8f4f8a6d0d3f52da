"""SnapStart runtime hooks, run in-process as the runtime would: before the snapshot,
then after a restore; each promise of `service.snapstart` checked."""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import snapshot_restore_py
from mangum import Mangum

from cache import CacheRecord
from model.flight_delay import FlightFeatures
from service.factory import create_app
from service.invocation import InstrumentedHandler
from service.keys import ssm_client
from service.ops.lambda_local.events import LambdaContext, http_api_v2_event
from service.snapstart import register
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
    return snapshot(artifact_path, moto_endpoint, table, tmp_path)


def snapshot(artifact_path: Path, endpoint: str, table: str, tmp_path: Path, **overrides):
    """A container registered with the runtime's hooks, after its snapshot hook ran with
    the example as its preload file."""
    preload = tmp_path / "hot.jsonl"
    preload.write_text(json.dumps(PAYLOAD) + "\n")
    settings = make_settings(artifact_path, cache_mode="tiered", dynamodb_endpoint=endpoint,
                             cache_table=table, snapstart_preload_file=preload,
                             **overrides)  # fmt: skip
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
    run_hooks(snapshot_restore_py._after_restore_registry)
    after = (snapshotted.id, cache.store, cache.store.client, cache.breaker, cache.refresh.rng)
    assert all(a is not b for a, b in zip(before, after, strict=True))
    assert snapshotted.id != before[0] and snapshotted.invocations == 0
    assert random.getstate() != state and cache.breaker.state == "closed"
    answer = snapshotted(http_api_v2_event(PAYLOAD), LambdaContext())
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["cache"] == "HIT-L1"


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The wall clock `seconds` ahead: a restore that long after the snapshot."""
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + seconds)


def test_a_restore_never_extends_an_entrys_l1_life(
    snapshotted, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry 290 s into its 300 s L1 life at restore has 10 s left, not 300."""
    memory = snapshotted.predictions.cache.memory
    memory.put("entry", CacheRecord({"p": 1}, "v", time.time(), time.time() + 86_400, 1))
    later(monkeypatch, 290)
    run_hooks(snapshot_restore_py._after_restore_registry)
    assert memory.get("entry") is not None
    later(monkeypatch, 301)
    assert memory.get("entry") is None


@pytest.mark.parametrize(("restored_after", "cache"), [(600, "HIT-L1"), (90_000, "HIT-L2")])
def test_preloaded_entries_stay_while_they_have_l2_life(
    artifact_path: Path, moto_endpoint: str, table: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, restored_after: int, cache: str,
) -> None:  # fmt: skip
    """Entries `predcache warm` wrote 10 minutes before the snapshot (older than
    L1_TTL_SECONDS, well within CACHE_TTL_SECONDS) answer from L1 after a restore; once
    their L2 life is over, they do not (the restored container reads L2 again)."""
    warmed = instance(artifact_path, moto_endpoint, table)
    warmed.post("/predict", json=PAYLOAD)  # into L2
    cached = warmed.app.state.predictions.cache
    key = warmed.app.state.predictions.plan([FlightFeatures(**PAYLOAD)])[0][0]
    record = cached.store.get(key)
    aged = dataclasses.replace(record, created_at=record.created_at - 600)
    cached.store.put(key, aged)
    handler = snapshot(artifact_path, moto_endpoint, table, tmp_path)
    later(monkeypatch, restored_after)
    if restored_after > 86_400:  # the entry is past its L2 life: the table has a new one
        cached.store.put(key, dataclasses.replace(record, created_at=time.time()))
    run_hooks(snapshot_restore_py._after_restore_registry)
    answer = handler(http_api_v2_event(PAYLOAD), LambdaContext())
    assert json.loads(answer["body"])["cache"] == cache


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


def test_a_restore_takes_the_keys_rotated_while_the_snapshot_slept(
    artifact_path: Path, moto_endpoint: str, table: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """`API_KEYS_PARAMETER`: the restored copy answers the parameter's keys of now, not
    the snapshot's."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", moto_endpoint)
    name = "/predcache/test/restore-keys"
    ssm = ssm_client(make_settings(artifact_path))
    ssm.put_parameter(Name=name, Value="revoked", Type="SecureString", Overwrite=True)
    handler = snapshot(artifact_path, moto_endpoint, table, tmp_path, api_keys_parameter=name)
    ssm.put_parameter(Name=name, Value="rotated", Type="SecureString", Overwrite=True)
    run_hooks(snapshot_restore_py._after_restore_registry)
    for key, status in (("revoked", 401), ("rotated", 200)):
        event = http_api_v2_event(PAYLOAD)
        event["headers"]["x-api-key"] = key
        assert handler(event, LambdaContext())["statusCode"] == status
