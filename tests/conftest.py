"""Shared fixtures: a model trained on a real sample, apps, and moto-backed DynamoDB."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from model.artifact import ModelArtifact
from model.flight_delay import EXAMPLE
from model.flight_delay.train import train
from service.factory import create_app
from service.settings import Settings

TABLE = "prediction-cache-test"
ROOT = Path(__file__).resolve().parents[1]
# Where the deploy checks live. make test-deploy's runs (`-m 'deploy and …'`) collect
# only these, not importing every other test module in each of its pytest processes
# (docs/deploy.md). A deploy-marked test kept anywhere else is refused at collection.
DEPLOY_TESTS = (
    ROOT / "tests" / "deploy",
    ROOT / "tests" / "ops" / "test_offline.py",
    ROOT / "tests" / "stress_test" / "test_conformance.py",
)
PAYLOAD = dict(EXAMPLE)  # the documented example: UA EWR→ORD, Dec 24, 17:00


@pytest.fixture(scope="session")
def artifact_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real model trained on 30,000 sampled 2013 departures (about a second)."""
    path = tmp_path_factory.mktemp("model") / "flight_delay.pkl"
    train(path, sample=30_000)
    return path


@pytest.fixture(scope="session")
def artifact(artifact_path: Path) -> ModelArtifact:
    return ModelArtifact(artifact_path)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and region, and no real endpoint, for moto."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _among_deploy_tests(path: Path) -> bool:
    return any(path == home or home in path.parents for home in DEPLOY_TESTS)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With `-m deploy` or `-m 'deploy and …'` (nothing but deploy checks can match),
    only DEPLOY_TESTS and the folders above them are collected."""
    expression = config.option.markexpr.strip()
    if expression != "deploy" and not expression.startswith("deploy and "):
        return None
    above = any(collection_path in home.parents for home in DEPLOY_TESTS)
    return None if above or _among_deploy_tests(collection_path) else True


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects them
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A deploy check outside DEPLOY_TESTS would never run in make test-deploy."""
    strays = [
        item.nodeid
        for item in items
        if item.get_closest_marker("deploy") and not _among_deploy_tests(item.path)
    ]
    if strays:
        raise pytest.UsageError(
            f"deploy-marked tests outside tests/conftest.py's DEPLOY_TESTS: {strays[:3]}"
        )


def make_settings(artifact_path: Path, **overrides: object) -> Settings:
    values = {"cache_mode": "memory", "model_path": artifact_path, "cache_table": TABLE}
    return Settings(**(values | overrides))


def run_together(threads: Sequence[threading.Thread]) -> None:
    """Start every thread, then wait for them all."""
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


L2_TIMES = ("l2_timeout_seconds", "l2_budget_seconds", "l2_slow_call_seconds")
# what a deployment runs with: the fault and degraded-table tests pass these to instance()
DEPLOYED_L2 = {name: getattr(Settings(), name) for name in L2_TIMES}


def instance(artifact_path: Path, endpoint: str, table: str, **overrides) -> TestClient:
    """One service instance (its own L1) on a DynamoDB endpoint and table, with the L2
    budgets servers on an embedded moto get (moto's CPU on two shared cores is not a
    degraded table); tests of a slow or failing table pass `DEPLOYED_L2`."""
    from service.ops.local import EMBEDDED_L2_ENV

    embedded = Settings.from_env(EMBEDDED_L2_ENV)
    budgets = {name: getattr(embedded, name) for name in L2_TIMES}
    settings = make_settings(
        artifact_path,
        cache_mode="tiered",
        dynamodb_endpoint=endpoint,
        cache_table=table,
        **(budgets | overrides),
    )
    return TestClient(create_app(settings))


@pytest.fixture
def table(request: pytest.FixtureRequest, aws_env: None, moto_endpoint: str) -> str:
    """A fresh cache table with TTL on the session's moto server, named for the test."""
    from service.ops.local import local_client
    from service.ops.template import create_table

    name = f"{request.node.module.__name__.rsplit('_', 1)[-1]}-{uuid.uuid4().hex[:8]}"
    create_table(local_client(moto_endpoint, timeout=2), name)
    return name


@pytest.fixture
def client(artifact_path: Path) -> Iterator[TestClient]:
    """The app with the in-memory cache only (no DynamoDB)."""
    with TestClient(create_app(make_settings(artifact_path))) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach AWS: without an endpoint, boto3 would try the real one."""
    if "AWS_ENDPOINT_URL_DYNAMODB" not in os.environ:
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto DynamoDB server over real HTTP on 127.0.0.1, for the whole session."""
    from moto.server import ThreadedMotoServer

    from service.ops.processes import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
