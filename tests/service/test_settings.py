"""Every setting is checked at start: one line naming the variable and what it accepts."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]


# One row per refusal: a table of cases, whose rows `duplicates` sees as alike in shape.
@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CACHE_MODE": "fast"}, "CACHE_MODE must be one of off, memory, tiered, got 'fast'"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ({"MODEL_PRELOAD": "maybe"}, "MODEL_PRELOAD must be one of 1/true/yes/on/0/false/no/off"),
        ({"EMIT_METRICS": "2"}, "EMIT_METRICS must be one of 1/true/yes/on/0/false/no/off"),
        ({"L1_MAX_ITEMS": "-1"}, "L1_MAX_ITEMS must be a number from 1 to 10000000, got -1"),
        ({"L2_TIMEOUT_SECONDS": "fast"}, "L2_TIMEOUT_SECONDS must be a number (float), got"),
        ({"EARLY_REFRESH_BETA": "nan"}, "EARLY_REFRESH_BETA must be a number from 0 to 10"),
        ({"EARLY_REFRESH_BETA": "inf"}, "EARLY_REFRESH_BETA must be a number from 0 to 10"),
        ({"L2_TIMEOUT_SECONDS": "inf"}, "L2_TIMEOUT_SECONDS must be a number from 0.001 to 5"),
        ({"L2_BREAKER_COOLDOWN_SECONDS": "inf"}, "L2_BREAKER_COOLDOWN_SECONDS must be a number"),
        ({"L2_MAX_ATTEMPTS": "40"}, "L2_MAX_ATTEMPTS must be a number from 1 to 5, got 40"),
        ({"L2_TIMEOUT_SECONDS": "2", "L2_MAX_ATTEMPTS": "4"}, "lets one request wait 8.35 s"),
        (
            {"L1_MAX_ITEMS": "10000000", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"},
            "~7,629 MB (~800 bytes an entry) of the function's 1024 MB; keep it within 671088",
        ),
        ({"API_KEYS": " , "}, "API_KEYS is set but names no key"),
        ({"API_KEYS": ""}, "API_KEYS is set but names no key"),
        ({"CACHE_TABLE": "my table!"}, "CACHE_TABLE must be 3-255 letters, digits"),
        ({"AWS_ENDPOINT_URL_DYNAMODB": "localhost:8000"}, "must be an http(s) URL with a host"),
        ({"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:99999"}, "has a bad port"),
    ],
)
def test_bad_values_are_refused_with_one_line(env: dict, says: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert says in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1", True), ("TRUE", True), ("on", True), ("0", False), ("no", False), ("Off", False)],
)
def test_booleans_are_spelled_one_way_for_every_setting(raw: str, value: bool) -> None:
    settings = Settings.from_env({"MODEL_PRELOAD": raw, "EMIT_METRICS": raw})
    assert settings.model_preload is value and settings.emit_metrics is value


def test_every_construction_path_is_checked() -> None:
    with pytest.raises(SettingsError, match="L2_TIMEOUT_SECONDS"):
        dataclasses.replace(Settings(), l2_timeout_seconds=math.inf)
    with pytest.raises(SettingsError, match="API_KEYS"):
        Settings(api_keys=frozenset())


def test_the_region_is_aws_region_then_aws_default_region() -> None:
    both = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"}
    assert Settings.from_env(both).aws_region == "eu-west-1"
    assert Settings.from_env({"AWS_DEFAULT_REGION": "us-west-2"}).aws_region == "us-west-2"
    assert Settings.from_env({}).aws_region is None


def test_names_are_case_insensitive_and_defaults_apply() -> None:
    settings = Settings.from_env({"CACHE_MODE": "Memory", "LOG_LEVEL": "debug"})
    assert (settings.cache_mode, settings.log_level) == ("memory", "DEBUG")
    assert Settings.from_env({}) == Settings()


def _start(code: list[str], cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    clean |= {"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
              "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    return subprocess.run(
        [sys.executable, *code], env=clean | env, capture_output=True, text=True, cwd=cwd,
        timeout=60,
    )  # fmt: skip


def _one_line(started: subprocess.CompletedProcess) -> str:
    """The refusal: exit status 1 and exactly one line on stderr (no traceback)."""
    lines = started.stderr.strip().splitlines()
    assert started.returncode == 1 and len(lines) == 1, started.stderr
    return lines[0]


def test_tiered_without_region_or_endpoint_says_what_to_do() -> None:
    line = _one_line(_start(["-c", "import service.handler"], CACHE_MODE="tiered"))
    assert "CACHE_MODE=tiered needs AWS_REGION" in line
    assert "make serve" in line and "CACHE_MODE=memory" in line


def test_tiered_without_credentials_refuses_to_start() -> None:
    started = _start(["-c", "import service.handler"], CACHE_MODE="tiered", AWS_REGION="eu-west-1")
    assert "CACHE_MODE=tiered found no AWS credentials" in _one_line(started)


KEYS = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"AWS_REGION": "us-east-1", "AWS_PROFILE": "nosuch"}, "AWS_PROFILE names a profile"),
        ({"AWS_REGION": "us-east-1", "AWS_PROFILE": "failing"}, "credential chain failed"),
        (
            {
                "AWS_REGION": "us-east-1",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/",
            },
            "credential chain failed",
        ),
        ({"AWS_REGION": "", "AWS_DEFAULT_REGION": "", **KEYS}, "needs AWS_REGION"),
        ({"AWS_PROFILE": "empty-region", **KEYS}, "needs AWS_REGION"),
        ({"AWS_REGION": "mars-east-1", **KEYS}, "none of the"),
        ({"AWS_PROFILE": "mars", **KEYS}, "'mars-1'"),
    ],
)
def test_every_credential_and_region_fault_is_one_line_at_start(
    env: dict, says: str, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[profile failing]\ncredential_process = /bin/false\n"
        "[profile empty-region]\nregion =\n[profile mars]\nregion = mars-1\n"
    )
    started = _start(["-c", "import service.handler"], CACHE_MODE="tiered",
                     AWS_CONFIG_FILE=str(config), **env)  # fmt: skip
    assert says in _one_line(started)


def test_every_region_botocore_knows_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.session

    from cache import make_client

    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    loader = botocore.session.get_session().get_component("data_loader")
    regions = [r for p in loader.load_data("partitions")["partitions"] for r in p["regions"]
               if not r.endswith("-global")]  # fmt: skip
    assert "eusc-de-east-1" in regions
    for region in regions:
        assert make_client(region=region).meta.region_name == region


def test_uvicorn_refuses_a_bad_setting_in_one_line() -> None:
    started = _start(["-m", "uvicorn", "service.app:app", "--port", "1"], L2_MAX_ATTEMPTS="40")
    assert "L2_MAX_ATTEMPTS must be a number from 1 to 5" in _one_line(started)


def test_aws_region_alone_picks_the_tables_region(
    artifact_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.factory import create_app

    for name, value in {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
                        "AWS_REGION": "eu-west-1", "CACHE_MODE": "tiered",
                        "MODEL_PATH": str(artifact_path)}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    assert create_app().state.predictions.region == "eu-west-1"


def test_make_serve_refuses_a_bad_setting_in_one_line() -> None:
    started = _start(["-m", "service.ops.cli", "serve", "--port", "1"], CACHE_MODE="fast")
    assert started.returncode == 1
    assert started.stderr.strip() == (
        "predcache: CACHE_MODE must be one of off, memory, tiered, got 'fast'"
    )


@pytest.mark.parametrize(
    ("model", "says"),
    [
        ("no_such_package.models:Mine", "MODEL='no_such_package.models:Mine' does not import"),
        ("model.flight_delay:Nothing", "does not import"),
        ("json:dumps", "MODEL='json:dumps' is not a model"),
        ("model.iris:Iris", "but the artifact"),  # MODEL_PATH below is the flight model's
    ],
)
def test_a_model_that_cannot_be_served_is_one_line_at_start(
    model: str, says: str, artifact_path: Path
) -> None:
    started = _start(["-c", "import service.handler"], CACHE_MODE="memory", MODEL=model,
                     MODEL_PATH=str(artifact_path))  # fmt: skip
    assert says in _one_line(started)


def test_a_predcache_toml_that_cannot_be_read_is_one_line_at_start(tmp_path: Path) -> None:
    (tmp_path / "predcache.toml").write_text('model = "mymodels.x:Y\n')  # unterminated
    started = _start(["-c", "import service.handler"], cwd=tmp_path, CACHE_MODE="memory")
    assert "predcache.toml: Illegal character" in _one_line(started)
