"""Service settings: every knob, its environment variable, its default and its bounds,
written once (see the README's table).

`Settings.from_env` parses the environment; `__post_init__` checks every value on
every construction path (`from_env`, direct, `dataclasses.replace`), so a bad one
raises `SettingsError` with one line naming the variable and what it accepts.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from model.contract import ModelError, project_model

CACHE_MODES = ("off", "memory", "tiered")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
# DynamoDB table names: 3-255 of letters, digits, '_', '-', '.'.
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
# What one request may wait on a hung table (every attempt's timeout plus the
# backoff): well inside the function's 15 s timeout (serverless.yml).
MAX_L2_WAIT_SECONDS = 5.0
# A Lambda function's memory at which it gets one full vCPU, and a share below it
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html, read 2026-12-01)
ONE_VCPU_MB = 1769


class SettingsError(ValueError):
    """A setting holds a value the service cannot use."""


def _project_model() -> str:
    """`model` in ./predcache.toml: a file that cannot be read is a bad setting (one
    line at start), not a traceback."""
    try:
        return project_model()
    except ModelError as exc:
        raise SettingsError(str(exc)) from None


def env(
    name: str,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A field's environment variable and the range or choices it accepts."""
    return {"env": name, "low": low, "high": high, "choices": choices}


@dataclass(frozen=True)
class Settings:
    """Every knob of the service; `from_env` is the only place that reads the environment."""

    cache_mode: str = field(default="tiered", metadata=env("CACHE_MODE", choices=CACHE_MODES))
    cache_table: str = field(default="prediction-cache", metadata=env("CACHE_TABLE"))
    cache_ttl_seconds: int = field(default=86_400, metadata=env("CACHE_TTL_SECONDS", 1, 31_536_000))
    l1_ttl_seconds: int = field(default=300, metadata=env("L1_TTL_SECONDS", 1, 86_400))
    # API Gateway's cache in front (L0, API_CACHE=1; deploy/front.js sets it): an entry is
    # answered only while it has this much life left, so L0 never outlives CACHE_TTL_SECONDS
    l0_ttl_seconds: int = field(default=0, metadata=env("L0_TTL_SECONDS", 0, 3600))
    l1_max_items: int = field(default=10_000, metadata=env("L1_MAX_ITEMS", 1, 10_000_000))
    dynamodb_endpoint: str | None = field(default=None, metadata=env("AWS_ENDPOINT_URL_DYNAMODB"))
    aws_region: str | None = field(default=None, metadata=env("AWS_REGION"))
    l2_timeout_seconds: float = field(default=0.2, metadata=env("L2_TIMEOUT_SECONDS", 0.001, 5))
    l2_max_attempts: int = field(default=2, metadata=env("L2_MAX_ATTEMPTS", 1, 5))
    # All DynamoDB work of one request (reads, lease, writes, retries, unprocessed
    # rounds) fits this budget; the model's own time does not draw on it.
    l2_budget_seconds: float = field(default=0.3, metadata=env("L2_BUDGET_SECONDS", 0.01, 5))
    # A DynamoDB call at least this slow counts against the breaker as a failure does.
    l2_slow_call_seconds: float = field(default=0.1, metadata=env("L2_SLOW_CALL_SECONDS", 0.001, 5))
    l2_breaker_failures: int = field(default=5, metadata=env("L2_BREAKER_FAILURES", 1, 1000))
    l2_breaker_cooldown_seconds: float = field(
        default=10.0, metadata=env("L2_BREAKER_COOLDOWN_SECONDS", 0.001, 3600)
    )
    early_refresh_beta: float = field(default=1.0, metadata=env("EARLY_REFRESH_BETA", 0, 10))
    # The model served (`package.module:Class`, a `model.contract.Model`) and its
    # artifact (None: the model's own default, model/artifacts/<its file>).
    model: str = field(default_factory=_project_model, metadata=env("MODEL"))
    model_path: Path | None = field(default=None, metadata=env("MODEL_PATH"))
    model_preload: bool = field(default=False, metadata=env("MODEL_PRELOAD"))
    # SnapStart: payloads (JSON Lines) whose L2 entries are read into L1 before the snapshot
    snapstart_preload_file: Path | None = field(
        default=None, metadata=env("SNAPSTART_PRELOAD_FILE")
    )
    # None: unset (no authentication); set, it must name at least one key.
    api_keys: frozenset[str] | None = field(default=None, metadata=env("API_KEYS"))
    # Or the name of an SSM SecureString holding them, read at start and every
    # API_KEYS_REFRESH_SECONDS (service/keys.py): a deployed function's keys
    api_keys_parameter: str | None = field(default=None, metadata=env("API_KEYS_PARAMETER"))
    api_keys_refresh_seconds: int = field(
        default=300, metadata=env("API_KEYS_REFRESH_SECONDS", 10, 86_400)
    )
    max_body_bytes: int = field(
        default=512 * 1024, metadata=env("MAX_BODY_BYTES", 1024, 6 * 1024 * 1024)
    )
    # GET /predict's query string (every route's): longer is a 414, before parsing
    max_query_bytes: int = field(default=4096, metadata=env("MAX_QUERY_BYTES", 256, 65_536))
    # Embedded Metric Format lines on stdout; `from_env` turns them on inside Lambda.
    emit_metrics: bool = field(default=False, metadata=env("EMIT_METRICS"))
    metrics_service: str = field(default="predcache", metadata=env("METRICS_SERVICE"))
    log_level: str = field(default="INFO", metadata=env("LOG_LEVEL", choices=LOG_LEVELS))
    # Set by Lambda (0: not in Lambda): what L1 must fit in.
    function_memory_mb: int = field(
        default=0, metadata=env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 0, 10_240)
    )

    def __post_init__(self) -> None:
        for spec in fields(self):
            _check(spec.metadata, getattr(self, spec.name))
        if not TABLE_NAME.fullmatch(self.cache_table):
            raise SettingsError(
                "CACHE_TABLE must be 3-255 letters, digits, '_', '-' or '.', "
                f"got {self.cache_table!r}"
            )
        if self.dynamodb_endpoint is not None:
            _check_url(self.dynamodb_endpoint)
        if self.api_keys is not None and (not self.api_keys or "" in self.api_keys):
            raise SettingsError("API_KEYS is set but names no key: give keys, or unset it")
        if self.api_keys_parameter is not None and not self.api_keys_parameter.strip():
            raise SettingsError(
                "API_KEYS_PARAMETER is set but empty: name the SSM parameter, or unset it"
            )
        if self.api_keys is not None and self.api_keys_parameter:
            raise SettingsError("API_KEYS and API_KEYS_PARAMETER are both set: keep one")
        if not self.metrics_service:
            raise SettingsError("METRICS_SERVICE must not be empty")
        if self.l0_ttl_seconds >= self.cache_ttl_seconds:
            raise SettingsError(
                f"L0_TTL_SECONDS={self.l0_ttl_seconds} (API_CACHE_TTL, API Gateway's cache) must "
                f"be smaller than CACHE_TTL_SECONDS={self.cache_ttl_seconds}: an answer kept there "
                "would outlive the entry's promise"
            )
        self._check_l2_budget()
        self._check_l1_fits()

    @property
    def cpu_capacity(self) -> float:
        """The CPU one process of the service can use, in cores: one (the GIL), or a
        Lambda function's memory share of a vCPU below `ONE_VCPU_MB`."""
        if not self.function_memory_mb:
            return 1.0
        return min(1.0, self.function_memory_mb / ONE_VCPU_MB)

    def _check_l1_fits(self) -> None:
        """A full L1 takes at most half of a Lambda function's memory (the runtime, the
        model and the request need the rest)."""
        from cache.memory import ENTRY_BYTES

        fits = self.function_memory_mb * 2**20 // 2 // ENTRY_BYTES
        if self.function_memory_mb and self.l1_max_items > fits:
            need = self.l1_max_items * ENTRY_BYTES / 2**20
            raise SettingsError(
                f"L1_MAX_ITEMS={self.l1_max_items} needs ~{need:,.0f} MB (~{ENTRY_BYTES} bytes an "
                f"entry) of the function's {self.function_memory_mb} MB; keep it within {fits}"
            )

    def _check_l2_budget(self) -> None:
        from cache.dynamodb import worst_call_seconds

        wait = worst_call_seconds(self.l2_timeout_seconds, self.l2_max_attempts)
        if wait > MAX_L2_WAIT_SECONDS:
            raise SettingsError(
                f"L2_TIMEOUT_SECONDS x L2_MAX_ATTEMPTS (+ backoff) lets one request wait "
                f"{wait:.2f} s on a hung table; keep it within {MAX_L2_WAIT_SECONDS} s"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name = spec.metadata["env"]
            raw = environ.get(name, "").strip()
            if name == "AWS_REGION":
                raw = raw or environ.get("AWS_DEFAULT_REGION", "").strip()
            if name == "EMIT_METRICS" and not raw and "AWS_LAMBDA_FUNCTION_NAME" in environ:
                raw = "1"
            if name == "API_KEYS" and name in environ:
                values[spec.name] = frozenset(k.strip() for k in raw.split(",") if k.strip())
            elif name == "API_KEYS_PARAMETER" and name in environ:
                values[spec.name] = raw  # set but empty is refused: it would turn keys off
            elif raw:
                values[spec.name] = _parse(name, raw, spec.default, spec.metadata["choices"])
        return cls(**values)


def refusal(environ: Mapping[str, str]) -> str | None:
    """What the service would refuse to start with in `environ` (one line), or None: for
    `make package`, which knows a function's environment before it runs."""
    try:
        Settings.from_env(environ)
    except SettingsError as exc:
        return str(exc)
    return None


def _parse(name: str, raw: str, default: Any, choices: tuple[str, ...]) -> Any:
    """`raw` as the type of the field's default; a choice matched case-insensitively."""
    for choice in choices:
        if choice.lower() == raw.lower():
            return choice
    if isinstance(default, bool):
        lowered = raw.lower()
        if lowered not in TRUE + FALSE:
            raise SettingsError(f"{name} must be one of {'/'.join(TRUE + FALSE)}, got {raw!r}")
        return lowered in TRUE
    if isinstance(default, int | float):
        try:
            return type(default)(raw)
        except ValueError:
            kind = type(default).__name__
            raise SettingsError(f"{name} must be a number ({kind}), got {raw!r}") from None
    if name.endswith(("_FILE", "_PATH")):
        return Path(raw)
    return raw


def _check(spec: Mapping[str, Any], value: Any) -> None:
    """A number within its bounds (finite), or one of its choices (matched exactly)."""
    name, low, high, choices = spec["env"], spec["low"], spec["high"], spec["choices"]
    if choices and value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    if low is None or isinstance(value, bool):
        return
    if not (math.isfinite(value) and low <= value <= high):
        raise SettingsError(f"{name} must be a number from {low} to {high}, got {value!r}")


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"AWS_ENDPOINT_URL_DYNAMODB must be an http(s) URL with a host, got {url!r}"
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise SettingsError(f"AWS_ENDPOINT_URL_DYNAMODB has a bad port: {url!r}") from None
