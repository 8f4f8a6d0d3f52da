"""Service settings, read once from environment variables (see the README's table).

Every value is checked at start: a bad one raises `SettingsError` with one line
naming the variable and what it accepts, before anything is served.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from model.artifact import DEFAULT_PATH

CACHE_MODES = ("off", "memory", "tiered")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
N = TypeVar("N", int, float)


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


def _number(env: Mapping[str, str], name: str, default: N, minimum: N) -> N:
    """`env[name]` parsed as the type of `default` (int or float), at least `minimum`."""
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    kind = type(default).__name__
    try:
        value = type(default)(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number ({kind}) >= {minimum}, got {raw!r}") from exc
    if not value >= minimum:  # also refuses NaN
        raise SettingsError(f"{name} must be a number ({kind}) >= {minimum}, got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """One spelling of booleans for every setting: 1/true/yes/on or 0/false/no/off."""
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in TRUE or raw in FALSE:
        return raw in TRUE
    raise SettingsError(f"{name} must be one of {'/'.join(TRUE + FALSE)}, got {raw!r}")


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices`, matched case-insensitively."""
    raw = env.get(name, "").strip() or default
    for choice in choices:
        if choice.lower() == raw.lower():
            return choice
    raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Every knob of the service; `from_env` is the only place that reads the environment."""

    cache_mode: str = "tiered"
    cache_table: str = "prediction-cache"
    cache_ttl_seconds: int = 86_400
    l1_ttl_seconds: int = 300
    l1_max_items: int = 10_000
    dynamodb_endpoint: str | None = None
    l2_timeout_seconds: float = 0.2
    l2_max_attempts: int = 2
    l2_breaker_failures: int = 5
    l2_breaker_cooldown_seconds: float = 10.0
    early_refresh_beta: float = 1.0
    model_path: Path = DEFAULT_PATH
    model_preload: bool = False
    api_keys: frozenset[str] = field(default_factory=frozenset)
    max_body_bytes: int = 512 * 1024
    emit_metrics: bool = False
    metrics_service: str = "predcache"
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.cache_mode not in CACHE_MODES:
            raise SettingsError(
                f"CACHE_MODE must be one of {', '.join(CACHE_MODES)}, got {self.cache_mode!r}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        keys = frozenset(k.strip() for k in env.get("API_KEYS", "").split(",") if k.strip())
        return cls(
            cache_mode=_choice(env, "CACHE_MODE", "tiered", CACHE_MODES),
            cache_table=env.get("CACHE_TABLE", "").strip() or "prediction-cache",
            cache_ttl_seconds=_number(env, "CACHE_TTL_SECONDS", 86_400, 1),
            l1_ttl_seconds=_number(env, "L1_TTL_SECONDS", 300, 1),
            l1_max_items=_number(env, "L1_MAX_ITEMS", 10_000, 1),
            dynamodb_endpoint=env.get("AWS_ENDPOINT_URL_DYNAMODB") or None,
            l2_timeout_seconds=_number(env, "L2_TIMEOUT_SECONDS", 0.2, 0.001),
            l2_max_attempts=_number(env, "L2_MAX_ATTEMPTS", 2, 1),
            l2_breaker_failures=_number(env, "L2_BREAKER_FAILURES", 5, 1),
            l2_breaker_cooldown_seconds=_number(env, "L2_BREAKER_COOLDOWN_SECONDS", 10.0, 0.001),
            early_refresh_beta=_number(env, "EARLY_REFRESH_BETA", 1.0, 0.0),
            model_path=Path(env.get("MODEL_PATH") or DEFAULT_PATH),
            model_preload=_flag(env, "MODEL_PRELOAD", False),
            api_keys=keys,
            max_body_bytes=_number(env, "MAX_BODY_BYTES", 512 * 1024, 1024),
            # Embedded Metric Format lines on stdout; on by default inside Lambda.
            emit_metrics=_flag(env, "EMIT_METRICS", "AWS_LAMBDA_FUNCTION_NAME" in env),
            metrics_service=env.get("METRICS_SERVICE", "").strip() or "predcache",
            log_level=_choice(env, "LOG_LEVEL", "INFO", LOG_LEVELS),
        )
