"""Where the app's API keys come from: `API_KEYS` (the keys themselves: local stacks,
a server you run), or `API_KEYS_PARAMETER`, the name of an SSM Parameter Store
SecureString holding them comma-separated (a deployed function: the template carries
the name, never a key).

A parameter is read when the app starts (missing, unreadable, empty or naming no key:
`SettingsError`, so the app refuses to start in one line) and again every
`API_KEYS_REFRESH_SECONDS`, on a thread of its own, so keys rotate without a deploy and
no request waits for SSM. A read that fails later keeps the last good keys and is
logged once until one succeeds again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from service.settings import Settings, SettingsError

log = logging.getLogger("predcache.keys")


class KeySource(Protocol):
    def current(self) -> tuple[bytes, ...]:
        """The keys a request may present, now."""
        ...

    def renew(self) -> None:
        """Take the keys anew, now (a SnapStart restore: the snapshot's may have been
        revoked long ago); `SettingsError` if they cannot be had."""
        ...


class FixedKeys:
    """`API_KEYS`: the same keys for the life of the process."""

    def __init__(self, keys: frozenset[str]) -> None:
        self.keys = tuple(key.encode() for key in sorted(keys))

    def current(self) -> tuple[bytes, ...]:
        return self.keys

    def renew(self) -> None:
        """Nothing to take: these keys are the process's own."""


class ParameterKeys:
    """An SSM SecureString's keys, read at start and every `refresh_seconds` after, each
    time with a new client from `connect` (so fresh credentials: a SnapStart container
    restored long after its snapshot must not sign with the snapshot's)."""

    def __init__(
        self,
        connect: Callable[[], Any],
        name: str,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connect = connect
        self.name = name
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._refreshing = threading.Lock()
        self._failing = False
        self.refresher: threading.Thread | None = None  # the last refresh started
        self.renew()

    def renew(self) -> None:
        """The parameter read now (at start, and after a SnapStart restore), the next
        refresh `refresh_seconds` from now."""
        try:
            self.keys = self._read()
        except SettingsError as exc:
            raise SettingsError(f"API_KEYS_PARAMETER={self.name}: {exc}") from None
        self._due = self._clock() + self.refresh_seconds

    def current(self) -> tuple[bytes, ...]:
        if self._clock() >= self._due and self._refreshing.acquire(blocking=False):
            self._due = self._clock() + self.refresh_seconds
            self.refresher = threading.Thread(target=self._refresh, daemon=True)
            self.refresher.start()
        return self.keys

    def _refresh(self) -> None:
        try:
            self.keys = self._read()
            if self._failing:
                log.warning("API keys read again", extra={"parameter": self.name})
            self._failing = False
        except SettingsError as exc:
            if not self._failing:
                log.warning("API keys not refreshed: the last good keys stay",
                            extra={"parameter": self.name, "error": str(exc)})  # fmt: skip
            self._failing = True
        finally:
            self._refreshing.release()

    def _read(self) -> tuple[bytes, ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.connect().get_parameter(Name=self.name, WithDecryption=True)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise SettingsError(f"{error.get('Code')}: {error.get('Message')}") from None
        except BotoCoreError as exc:
            raise SettingsError(f"unreadable: {exc}") from None
        keys = {key.strip() for key in answer["Parameter"]["Value"].split(",") if key.strip()}
        if not keys:
            raise SettingsError("names no key (comma-separated keys expected)")
        return tuple(key.encode() for key in sorted(keys))


def ssm_client(settings: Settings) -> Any:
    """An SSM client for the function's region (botocore alone, as the table's)."""
    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    config = Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 2})
    return session.create_client("ssm", region_name=settings.aws_region, config=config)


def key_source(settings: Settings) -> KeySource | None:
    """The keys the settings name, or None (no key is asked for)."""
    if settings.api_keys_parameter:
        return ParameterKeys(lambda: ssm_client(settings), settings.api_keys_parameter,
                             settings.api_keys_refresh_seconds)  # fmt: skip
    if settings.api_keys is not None:
        return FixedKeys(settings.api_keys)
    return None
