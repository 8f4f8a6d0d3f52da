"""Service settings, read once from environment variables (see the README's table)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from model.artifact import DEFAULT_PATH

CACHE_MODES = ("off", "memory", "tiered")
N = TypeVar("N", int, float)


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


def _number(env: Mapping[str, str], name: str, default: N, minimum: N) -> N:
    """`env[name]` parsed as the type of `default` (int or float), at least `minimum`."""
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = type(default)(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a {type(default).__name__}, got {raw!r}") from exc
    if not value >= minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Every knob of the service; `from_env` is the only place that reads the environment."""

    cache_mode: str = "tiered"
    cache_table: str = "prediction-cache"
    cache_ttl_seconds: int = 86_400
    l1_ttl_seconds: int = 300
    l1_max_items: int = 10_000
    dynamodb_endpoint: str | None = None
    l2_timeout_seconds: float = 0.5
    l2_max_attempts: int = 2
    l2_breaker_failures: int = 5
    l2_breaker_cooldown_seconds: float = 10.0
    model_path: Path = DEFAULT_PATH
    model_preload: bool = False
    api_keys: frozenset[str] = field(default_factory=frozenset)
    max_body_bytes: int = 512 * 1024
    emit_metrics: bool = False
    metrics_service: str = "predcache"
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.cache_mode not in CACHE_MODES:
            raise SettingsError(f"CACHE_MODE must be one of {CACHE_MODES}, got {self.cache_mode!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        keys = frozenset(k.strip() for k in env.get("API_KEYS", "").split(",") if k.strip())
        return cls(
            cache_mode=env.get("CACHE_MODE", "tiered").strip().lower() or "tiered",
            cache_table=env.get("CACHE_TABLE", "prediction-cache"),
            cache_ttl_seconds=_number(env, "CACHE_TTL_SECONDS", 86_400, 1),
            l1_ttl_seconds=_number(env, "L1_TTL_SECONDS", 300, 1),
            l1_max_items=_number(env, "L1_MAX_ITEMS", 10_000, 1),
            dynamodb_endpoint=env.get("AWS_ENDPOINT_URL_DYNAMODB") or None,
            l2_timeout_seconds=_number(env, "L2_TIMEOUT_SECONDS", 0.5, 0.001),
            l2_max_attempts=_number(env, "L2_MAX_ATTEMPTS", 2, 1),
            l2_breaker_failures=_number(env, "L2_BREAKER_FAILURES", 5, 1),
            l2_breaker_cooldown_seconds=_number(env, "L2_BREAKER_COOLDOWN_SECONDS", 10.0, 0.001),
            model_path=Path(env.get("MODEL_PATH") or DEFAULT_PATH),
            model_preload=env.get("MODEL_PRELOAD", "0").strip().lower() in ("1", "true", "yes"),
            api_keys=keys,
            max_body_bytes=_number(env, "MAX_BODY_BYTES", 512 * 1024, 1024),
            # Embedded Metric Format lines on stdout; on by default inside Lambda.
            emit_metrics=env.get("EMIT_METRICS", "1" if "AWS_LAMBDA_FUNCTION_NAME" in env else "0")
            == "1",
            metrics_service=env.get("METRICS_SERVICE", "predcache"),
            log_level=env.get("LOG_LEVEL", "INFO"),
        )
