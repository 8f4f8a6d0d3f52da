"""App keys from an SSM SecureString (`API_KEYS_PARAMETER`, service/keys.py), against
moto: read at start, refused at start in one line when missing, empty or naming no key,
rotated without a restart, and the last good keys kept (logged once) when a later read
fails."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from service.factory import create_app
from service.keys import ParameterKeys, ssm_client
from service.settings import Settings, SettingsError
from tests.conftest import PAYLOAD, make_settings

NAME = "/predcache/test/api-keys"


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


def test_the_app_checks_the_parameters_keys(ssm, artifact_path: Path) -> None:
    put(ssm, "k1, k2")
    app = TestClient(create_app(make_settings(artifact_path, api_keys_parameter=NAME)))
    assert app.post("/predict", json=PAYLOAD, headers={"x-api-key": "k2"}).status_code == 200
    assert app.post("/predict", json=PAYLOAD, headers={"x-api-key": "k3"}).status_code == 401
    assert app.post("/predict", json=PAYLOAD).status_code == 401
    assert app.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("value", "says"),
    [(None, "ParameterNotFound"), (" , ,", "names no key")],
    ids=["missing", "no key"],
)
def test_a_parameter_without_keys_refuses_to_start(ssm, artifact_path, value, says) -> None:
    if value is not None:
        put(ssm, value)
    with pytest.raises(SettingsError, match=f"API_KEYS_PARAMETER={NAME}: .*{says}") as caught:
        create_app(make_settings(artifact_path, api_keys_parameter=NAME))
    assert "\n" not in str(caught.value)


def test_keys_and_a_parameter_together_are_refused() -> None:
    with pytest.raises(SettingsError, match="both set"):
        Settings(api_keys=frozenset({"k"}), api_keys_parameter=NAME)


def test_keys_rotate_without_a_restart_and_survive_a_failed_read(ssm, caplog) -> None:
    put(ssm, "old")
    clock = Clock()
    keys = ParameterKeys(lambda: ssm, NAME, refresh_seconds=300, clock=clock)
    put(ssm, "new")
    clock.now += 299
    assert keys.current() == (b"old",) and keys.refresher is None  # not due yet
    clock.now += 1
    keys.current()  # due: read again on its own thread, this request is not held
    keys.refresher.join()
    assert keys.current() == (b"new",)
    ssm.delete_parameter(Name=NAME)
    with caplog.at_level(logging.WARNING, logger="predcache.keys"):
        for _ in range(2):
            clock.now += 300
            keys.current()
            keys.refresher.join()
    assert keys.current() == (b"new",)  # the last good keys stay
    assert [r.message for r in caplog.records] == [
        "API keys not refreshed: the last good keys stay"
    ]
