"""App keys from an SSM SecureString (`API_KEYS_PARAMETER`, service/keys.py), against
moto: read at start, rotated without a restart, revoked for real (a deleted, blank or
keyless parameter refuses every key, in running and new containers alike), the last
good keys kept for a bounded time when reads fail, and `/health` saying which."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.stub import Stubber
from fastapi.testclient import TestClient
from moto import mock_aws

from service.factory import create_app
from service.keys import KEEP_PERIODS, RETRY_SECONDS, ParameterKeys, ssm_client
from service.settings import Settings, SettingsError
from tests.conftest import PAYLOAD, make_settings

NAME = "/predcache/test/api-keys"
PERIOD = 300


@pytest.fixture
def ssm(aws_env: None) -> Iterator[object]:
    with mock_aws():
        yield ssm_client(Settings(aws_region="us-east-1"))


def put(ssm, value: str) -> None:
    ssm.put_parameter(Name=NAME, Value=value, Type="SecureString", Overwrite=True)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


class Connect:
    """The SSM client each read gets: moto's, or one whose reads fail with `code`."""

    def __init__(self, ssm: object) -> None:
        self.ssm = ssm
        self.failing: str | None = None

    def __call__(self) -> object:
        if self.failing is None:
            return self.ssm
        client = ssm_client(Settings(aws_region="us-east-1"))
        stub = Stubber(client)
        stub.add_client_error("get_parameter", self.failing, http_status_code=400)
        stub.activate()
        return client


def refreshed(keys: ParameterKeys, clock: Clock, seconds: float = PERIOD) -> tuple[bytes, ...]:
    """The keys after `seconds` more, the refresh then due having run."""
    clock.now += seconds
    keys.current()
    if keys.refresher is not None:
        keys.refresher.join()
    return keys.current()


def serve(artifact_path: Path) -> TestClient:
    return TestClient(create_app(make_settings(artifact_path, api_keys_parameter=NAME)))


def asked(app: TestClient, key: str | None) -> int:
    headers = {"x-api-key": key} if key else {}
    return app.post("/predict", json=PAYLOAD, headers=headers).status_code


def test_the_app_checks_the_parameters_keys(ssm, artifact_path: Path) -> None:
    put(ssm, "k1, k2")
    app = serve(artifact_path)
    assert asked(app, "k2") == 200
    assert asked(app, "k3") == asked(app, None) == 401
    assert app.get("/health").json()["api_keys"] == "ok"


@pytest.mark.parametrize("value", [None, " , ,"], ids=["deleted", "no key"])
def test_a_new_container_after_revocation_refuses_every_key(ssm, artifact_path, value) -> None:
    """It starts (a cold start is not an outage), answers 401 to every key, and says why."""
    if value is not None:
        put(ssm, value)
    app = serve(artifact_path)
    assert asked(app, "k1") == asked(app, None) == 401
    health = app.get("/health")
    assert health.status_code == 200 and health.json()["api_keys"] == "revoked"


def test_a_parameter_that_cannot_be_read_at_start_refuses_to_start(ssm, artifact_path) -> None:
    connect = Connect(ssm)
    connect.failing = "AccessDeniedException"
    with pytest.raises(SettingsError, match=f"{NAME}: AccessDeniedException") as caught:
        ParameterKeys(connect, NAME, PERIOD)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("revoke", ["delete", "blank", "no key"])
def test_a_running_container_refuses_revoked_keys_within_one_period(ssm, revoke, caplog) -> None:
    put(ssm, "old")
    clock = Clock()
    keys = ParameterKeys(lambda: ssm, NAME, PERIOD, clock=clock)
    if revoke == "delete":
        ssm.delete_parameter(Name=NAME)
    else:
        put(ssm, " " if revoke == "blank" else ",")
    with caplog.at_level(logging.WARNING, logger="predcache.keys"):
        assert refreshed(keys, clock) == ()
        assert refreshed(keys, clock) == ()  # and stays so, told once
    assert keys.state == "revoked"
    assert [r.message for r in caplog.records] == ["API keys revoked: every key is refused"]
    put(ssm, "new")  # keys given again: they work from the next read
    assert refreshed(keys, clock) == (b"new",) and keys.state == "ok"


def test_keys_rotate_without_a_restart(ssm) -> None:
    put(ssm, "a,b")
    clock = Clock()
    keys = ParameterKeys(lambda: ssm, NAME, PERIOD, clock=clock)
    put(ssm, "b,c")
    assert refreshed(keys, clock, PERIOD - 1) == (b"a", b"b") and keys.refresher is None
    assert refreshed(keys, clock, 1) == (b"b", b"c")  # due: read on its own thread


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException"])
def test_failed_reads_keep_the_last_good_keys_for_a_bounded_time(ssm, code, caplog) -> None:
    put(ssm, "good")
    clock = Clock()
    connect = Connect(ssm)
    keys = ParameterKeys(connect, NAME, PERIOD, clock=clock)
    connect.failing = code
    with caplog.at_level(logging.WARNING, logger="predcache.keys"):
        assert refreshed(keys, clock) == (b"good",) and keys.state == "kept"
        kept_until = 1000.0 + KEEP_PERIODS * PERIOD
        while clock.now + RETRY_SECONDS < kept_until:  # retried sooner than the period
            assert refreshed(keys, clock, RETRY_SECONDS) == (b"good",)
        assert refreshed(keys, clock, kept_until - clock.now) == ()
        assert keys.state == "unreadable"
        connect.failing = None
        assert refreshed(keys, clock, RETRY_SECONDS) == (b"good",) and keys.state == "ok"
    assert [r.message.split(":")[0] for r in caplog.records] == [
        "API keys not read",
        "API keys unreadable too long",
        "API keys read",
    ]


def test_the_app_says_when_it_checks_no_key(artifact_path: Path) -> None:
    app = TestClient(create_app(make_settings(artifact_path)))
    assert app.get("/health").json()["api_keys"] == "off"


def test_keys_and_a_parameter_together_are_refused() -> None:
    with pytest.raises(SettingsError, match="both set"):
        Settings(api_keys=frozenset({"k"}), api_keys_parameter=NAME)


def test_an_empty_parameter_name_refuses_to_start(artifact_path: Path) -> None:
    """As `API_KEYS=""` does: an empty name would silently turn the key check off."""
    environ = {"MODEL_PATH": str(artifact_path), "API_KEYS_PARAMETER": " "}
    with pytest.raises(SettingsError, match="API_KEYS_PARAMETER is set but empty"):
        Settings.from_env(environ)
