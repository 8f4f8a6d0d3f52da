"""DynamoDB faults: every request still gets the right 200 within a stated bound.

Bound: all L2 work of one request fits L2_BUDGET_SECONDS (0.3 s by default), however
many calls it makes (read, the refresh lease, write); every request below must answer
within BOUND_S (that plus slack for a loaded machine), with the probability the model
gives when no cache is involved. tests/service/test_degraded_table.py compares each
case with the no-cache time in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cache import CircuitBreaker, make_client, make_key
from cache.dynamodb import KEY_ATTR
from model.flight_delay import FlightDelay, FlightFeatures
from service.factory import create_app
from stress_test.payloads import unique_payloads
from tests.conftest import DEPLOYED_L2, instance, make_settings
from tests.dynamo import Faults, silent_endpoint

VALUE_SCHEMA = FlightDelay.value_schema

pytestmark = pytest.mark.slow  # subprocesses, many requests: not in `make test-fast`

BOUND_S = 2.0
FAULTY = DEPLOYED_L2 | {"l2_timeout_seconds": 0.2, "l2_max_attempts": 2}


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def truth(artifact_path: Path) -> Callable[[dict], float]:
    """The model's answer with no cache at all."""
    client = TestClient(create_app(make_settings(artifact_path, cache_mode="off")))
    return lambda payload: client.post("/predict", json=payload).json()["delay_probability"]


def corrupt_every_key(client: TestClient, payloads: list[dict], endpoint: str, table: str) -> None:
    predictions = client.app.state.predictions
    dynamo = make_client(endpoint_url=endpoint)
    for payload in payloads:
        key = predictions.key(FlightFeatures.model_validate(payload))
        dynamo.put_item(TableName=table, Item={KEY_ATTR: {"S": key}, "value": {"S": "{]"}})


def fault_setups(endpoint: str, table: str):
    """name → (endpoint the app uses, setup(client, payloads), error kind counted)."""
    return {
        "unreachable": ("http://127.0.0.1:9", None, "unreachable"),
        "slow": ("silent", None, "timeout"),
        "throughput_exceeded": (
            endpoint,
            lambda c, _p: Faults(c.app.state.predictions.cache.store.client,
                                 "ProvisionedThroughputExceededException"),
            "throttled",
        ),
        "throttling": (
            endpoint,
            lambda c, _p: Faults(c.app.state.predictions.cache.store.client),
            "throttled",
        ),
        "missing_table": (endpoint, None, "missing_table"),
        "corrupt_items": (
            endpoint,
            lambda c, p: corrupt_every_key(c, p, endpoint, table),
            "corrupt",
        ),
    }  # fmt: skip


@pytest.mark.parametrize(
    "fault",
    ["unreachable", "slow", "throughput_exceeded", "throttling", "missing_table", "corrupt_items"],
)
def test_every_request_answers_correctly_within_bound(
    fault: str, artifact_path: Path, moto_endpoint: str, table: str, truth
) -> None:
    endpoint, setup, kind = fault_setups(moto_endpoint, table)[fault]
    context: AbstractContextManager = silent_endpoint() if endpoint == "silent" else nullcontext()
    payloads = unique_payloads(8, offset=50_000)
    with context as silent:
        used_table = "absent-table" if fault == "missing_table" else table
        client = instance(artifact_path, silent or endpoint, used_table, **FAULTY)
        if setup:
            setup(client, payloads)
        for payload in payloads:
            started = time.perf_counter()
            response = client.post("/predict", json=payload)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200
            assert response.json()["cache"] == "MISS"
            assert response.json()["delay_probability"] == truth(payload)
            assert elapsed < BOUND_S, f"{fault}: {elapsed:.2f}s"
        stats = client.get("/stats").json()
    assert stats["l2"]["errors"][kind] >= 1
    if fault != "corrupt_items":  # corrupt items are read fine: the table itself works
        assert stats["l2_circuit"] == "open"
        assert stats["l2"]["errors"]["circuit_open"] >= 1


def test_circuit_opens_then_recovers(
    artifact_path: Path, moto_endpoint: str, table: str, truth
) -> None:
    client = instance(artifact_path, moto_endpoint, table, **FAULTY)
    cache = client.app.state.predictions.cache
    clock = Clock()
    cache.breaker = CircuitBreaker(threshold=3, cooldown=10, timer=clock)
    faults = Faults(cache.store.client)
    payloads = unique_payloads(6, offset=60_000)
    for payload in payloads[:3]:
        assert client.post("/predict", json=payload).status_code == 200
    assert client.get("/stats").json()["l2_circuit"] == "open"
    attempts = faults.attempts
    client.post("/predict", json=payloads[3])
    assert faults.attempts == attempts  # open: DynamoDB not called at all
    faults.active = False  # the table recovers
    clock.now += 10
    body = client.post("/predict", json=payloads[4]).json()
    assert body["delay_probability"] == truth(payloads[4])
    assert client.get("/stats").json()["l2_circuit"] == "closed"
    fresh = instance(artifact_path, moto_endpoint, table, **DEPLOYED_L2)
    assert fresh.post("/predict", json=payloads[4]).headers["x-cache"] == "HIT-L2"


def test_unprocessed_keys_forever_batch_answers_within_bound(
    artifact_path: Path, moto_endpoint: str, table: str, truth
) -> None:
    client = instance(artifact_path, moto_endpoint, table, **FAULTY)
    store = client.app.state.predictions.cache.store
    store.client.batch_get_item = lambda **kw: {"UnprocessedKeys": kw["RequestItems"]}
    store.client.batch_write_item = lambda **kw: {"UnprocessedItems": kw["RequestItems"]}
    items = unique_payloads(30, offset=70_000)
    started = time.perf_counter()
    body = client.post("/predict/batch", json={"items": items}).json()
    assert time.perf_counter() - started < BOUND_S
    assert [p["delay_probability"] for p in body["predictions"]] == [truth(i) for i in items]
    errors = client.get("/stats").json()["l2"]["errors"]
    assert errors["unprocessed"] == 30  # a table that left the reads undone gets no writes
    assert errors["write_skipped"] == 1 and "unprocessed_write" not in errors


def test_two_processes_writing_one_key_agree(
    artifact_path: Path, moto_endpoint: str, table: str
) -> None:
    """Two cold processes miss on the same payload at once: both 200, one value stored."""
    import json
    import os
    import subprocess
    import sys

    payload = unique_payloads(1, offset=80_000)[0]
    env = {
        **os.environ,
        "MODEL_PATH": str(artifact_path),
        "CACHE_TABLE": table,
        "AWS_ENDPOINT_URL_DYNAMODB": moto_endpoint,
        "MODEL_PRELOAD": "1",
        "LOG_LEVEL": "WARNING",
    }
    from service.ops.lambda_local.events import http_api_v2_event
    from stress_test.bench.cold import PROBE

    command = [sys.executable, str(PROBE), json.dumps(http_api_v2_event(payload))]
    root = Path(__file__).resolve().parents[2]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True, cwd=root)
        for _ in range(2)
    ]
    results = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in processes]
    assert [r["status"] for r in results] == [200, 200]
    assert results[0]["value"] == results[1]["value"]
    dynamo = make_client(endpoint_url=moto_endpoint)
    items = dynamo.scan(TableName=table)["Items"]
    assert len(items) == 1
    stored = json.loads(items[0]["value"]["S"])["delay_probability"]
    assert stored == results[0]["value"]["delay_probability"]
    key = make_key("flight-delay", results[0]["model_version"],
                   FlightFeatures.model_validate(payload).model_dump(),
                   schema=VALUE_SCHEMA)  # fmt: skip
    assert items[0][KEY_ATTR]["S"] == key


@pytest.mark.parametrize("damage", ["missing", "tampered"])
def test_service_refuses_to_start_on_an_untrusted_artifact(
    damage: str, artifact_path: Path, tmp_path: Path
) -> None:
    """Startup fails, naming the file and the reason; nothing is served unverified."""
    import os
    import shutil
    import subprocess
    import sys

    from model.artifact import manifest_path_for

    bad = tmp_path / "flight_delay.pkl"
    shutil.copy(manifest_path_for(artifact_path), manifest_path_for(bad))
    if damage == "tampered":
        bad.write_bytes(artifact_path.read_bytes()[:-1] + b"\x00")
    env = {**os.environ, "MODEL_PATH": str(bad), "CACHE_MODE": "memory"}
    started = subprocess.run(
        [sys.executable, "-c", "import service.handler"],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert started.returncode != 0
    reason = "not found" if damage == "missing" else "does not match its manifest"
    assert str(bad) in started.stderr and reason in started.stderr
    assert "refusing to start" in started.stderr


def test_hung_table_with_the_defaults_costs_each_request_under_half_a_second(
    artifact_path: Path, aws_env: None
) -> None:
    """A fresh container on a table that accepts connections and never answers: every
    request, the first ones included, waits at most one L2 budget (0.3 s) on L2, until
    the breaker opens and L2 costs nothing."""
    payloads = unique_payloads(8, offset=90_000)
    with silent_endpoint() as silent:
        client = instance(artifact_path, silent, "hung", **DEPLOYED_L2)
        times, attempts = [], []
        for payload in payloads:
            started = time.perf_counter()
            assert client.post("/predict", json=payload).status_code == 200
            times.append(time.perf_counter() - started)
            attempts.append(client.get("/stats").json()["l2"]["latency"]["calls"])
        stats = client.get("/stats").json()
    assert max(times) < 0.3 + 0.5, times  # the budget, plus slack for a loaded machine
    assert stats["l2"]["errors"]["timeout"] == 5  # L2_BREAKER_FAILURES, then open
    assert stats["l2_circuit"] == "open"
    # open: the last three make no L2 attempt at all (a timed sum flaked once in a full
    # run, a 0.37 s pause with the breaker open and no call made); each of the first five
    # made one or two (botocore retries a timed-out attempt if the budget leaves time)
    assert attempts[4] == attempts[-1] and 5 <= attempts[4] <= 10, attempts
    assert stats["l2"]["errors"]["circuit_open"] == 3
