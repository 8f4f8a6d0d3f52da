"""Where the app's API keys come from: `API_KEYS` (the keys themselves: local stacks,
a server you run), or `API_KEYS_PARAMETER`, the name of an SSM Parameter Store
SecureString holding them comma-separated (a deployed function: the template carries
the name, never a key).

A parameter is read when the app starts and again every `API_KEYS_REFRESH_SECONDS`
(R), on a thread of its own, so keys rotate without a deploy and no request waits
for SSM. Its answers mean:

- keys: those keys, from then on (rotation);
- deleted, blank or naming no key: every key is refused from then on (revocation:
  within R of it, in every container, new ones included; `/health` says `revoked`);
- a failed read (throttled, timed out, access denied): the last good keys stay for
  at most `KEEP_PERIODS` times R after the last good read (`/health`: `kept`), retried
  every `RETRY_SECONDS`; past that every key is refused (`unreadable`) until a read
  succeeds. At start there are no last good keys: the app refuses to start in one line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

from service.settings import Settings, SettingsError

log = logging.getLogger("predcache.keys")

# How long the last good keys outlive failed reads, in refresh periods: a key an
# operator revokes while SSM cannot be read is dead at most this long after.
KEEP_PERIODS = 3
RETRY_SECONDS = 30.0  # after a failed read, the next one (at most R)
KeyState = Literal["off", "ok", "kept", "revoked", "unreadable"]
STATE_LINES: dict[KeyState, str] = {
    "ok": "API keys read",
    "kept": f"API keys not read: the last good keys stay for at most {KEEP_PERIODS} refresh "
    "periods after the last good read",
    "revoked": "API keys revoked: every key is refused",
    "unreadable": "API keys unreadable too long: every key is refused until a read succeeds",
}


class Revoked(Exception):
    """The parameter is gone, blank or names no key: no key is valid."""


class KeySource(Protocol):
    def current(self) -> tuple[bytes, ...]:
        """The keys a request may present, now."""
        ...

    @property
    def state(self) -> KeyState:
        """What `/health` says of the keys (see the module's docstring)."""
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

    @property
    def state(self) -> KeyState:
        return "ok"

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
        self._told: KeyState = "ok"  # the state last logged
        self.refresher: threading.Thread | None = None  # the last refresh started
        self.renew()

    def renew(self) -> None:
        """The parameter read now (at start, and after a SnapStart restore), the next
        refresh `refresh_seconds` from now; a read that fails refuses to start."""
        try:
            self._read_in()
        except SettingsError as exc:
            raise SettingsError(f"API_KEYS_PARAMETER={self.name}: {exc}") from None
        self._due = self._clock() + self.refresh_seconds

    def current(self) -> tuple[bytes, ...]:
        now = self._clock()
        if now >= self._due and self._refreshing.acquire(blocking=False):
            self._due = now + self.refresh_seconds
            self.refresher = threading.Thread(target=self._refresh, daemon=True)
            self.refresher.start()
        return self.keys if now < self._good_until else ()

    @property
    def state(self) -> KeyState:
        if not self.keys:
            return "revoked"
        if self._clock() >= self._good_until:
            return "unreadable"
        return "kept" if self._failing else "ok"

    def _take(self, keys: tuple[bytes, ...]) -> None:
        self.keys = keys
        self._good_until = self._clock() + KEEP_PERIODS * self.refresh_seconds
        self._failing = False

    def _revoke(self) -> None:
        self.keys = ()
        self._good_until = float("inf")  # revoked is an answer, not a failure
        self._failing = False

    def _read_in(self) -> None:
        """The parameter's answer taken: its keys, or none when revoked; `SettingsError`
        (nothing changed) when it cannot be read."""
        why = ""
        try:
            self._take(self._read())
        except Revoked as exc:
            self._revoke()
            why = str(exc)
        self._tell(why)

    def _refresh(self) -> None:
        try:
            self._read_in()
        except SettingsError as exc:
            self._due = min(self._due, self._clock() + RETRY_SECONDS)
            self._failing = True
            self._tell(str(exc))
        finally:
            self._refreshing.release()

    def _tell(self, why: str = "") -> None:
        """Log the keys' state when it changed since the last line (once, not per read)."""
        state = self.state
        if state != self._told:
            extra = {"parameter": self.name, "api_keys": state} | ({"why": why} if why else {})
            log.warning(STATE_LINES[state], extra=extra)
            self._told = state

    def _read(self) -> tuple[bytes, ...]:
        """The parameter's keys; `Revoked` when it is gone or names none, `SettingsError`
        when it cannot be read."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.connect().get_parameter(Name=self.name, WithDecryption=True)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ParameterNotFound":
                raise Revoked("ParameterNotFound: the parameter does not exist") from None
            raise SettingsError(f"{error.get('Code')}: {error.get('Message')}") from None
        except BotoCoreError as exc:
            raise SettingsError(f"unreadable: {exc}") from None
        keys = {key.strip() for key in answer["Parameter"]["Value"].split(",") if key.strip()}
        if not keys:
            raise Revoked("the parameter names no key (comma-separated keys expected)")
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
