"""Every setting is checked at start: one line naming the variable and what it accepts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CACHE_MODE": "fast"}, "CACHE_MODE must be one of off, memory, tiered, got 'fast'"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ({"MODEL_PRELOAD": "maybe"}, "MODEL_PRELOAD must be one of 1/true/yes/on/0/false/no/off"),
        ({"EMIT_METRICS": "2"}, "EMIT_METRICS must be one of 1/true/yes/on/0/false/no/off"),
        ({"L1_MAX_ITEMS": "-1"}, "L1_MAX_ITEMS must be a number (int) >= 1, got '-1'"),
        ({"L2_TIMEOUT_SECONDS": "fast"}, "L2_TIMEOUT_SECONDS must be a number (float) >= 0.001"),
        ({"EARLY_REFRESH_BETA": "nan"}, "EARLY_REFRESH_BETA must be a number (float) >= 0.0"),
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


def test_names_are_case_insensitive_and_defaults_apply() -> None:
    settings = Settings.from_env({"CACHE_MODE": "Memory", "LOG_LEVEL": "debug"})
    assert (settings.cache_mode, settings.log_level) == ("memory", "DEBUG")
    assert Settings.from_env({}) == Settings()


def _start(code: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    clean |= {"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
    return subprocess.run(
        [sys.executable, *code], env=clean | env, capture_output=True, text=True, cwd=ROOT,
        timeout=60,
    )  # fmt: skip


def test_tiered_without_region_or_endpoint_says_what_to_do() -> None:
    started = _start(["-c", "import service.handler"], CACHE_MODE="tiered")
    assert started.returncode != 0
    assert "CACHE_MODE=tiered needs AWS_REGION" in started.stderr
    assert "make serve" in started.stderr and "CACHE_MODE=memory" in started.stderr
    assert "NoRegionError" not in started.stderr.splitlines()[-1]


def test_make_serve_refuses_a_bad_setting_in_one_line() -> None:
    started = _start(["-m", "service.local", "--port", "1"], CACHE_MODE="fast")
    assert started.returncode == 1
    assert started.stderr.strip() == (
        "predcache: CACHE_MODE must be one of off, memory, tiered, got 'fast'"
    )
