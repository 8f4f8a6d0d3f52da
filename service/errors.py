"""Errors the service answers itself: 503 for known temporary ones, 500 for the rest.

The middleware sits inside Starlette's own error middleware and re-raises only when
a response had already started, so an error is logged once (as JSON, with its
traceback) and neither Starlette nor Mangum logs it again in plain text.
"""

from __future__ import annotations

import logging
from typing import Any

from service.replies import error_body, send_json

log = logging.getLogger("predcache.app")
RETRY_AFTER_SECONDS = 5


class TemporaryError(Exception):
    """A failure a retry may not see: answered 503 with `Retry-After`."""


class ModelUnavailable(TemporaryError):
    """The model could not be loaded (artifact missing, changed or unreadable)."""


class ErrorMiddleware:
    """Pure ASGI: turns an exception escaping the app into one log line and a JSON answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            temporary = isinstance(exc, TemporaryError)
            log.error(
                "temporary error" if temporary else "unexpected error",
                exc_info=not temporary,
                extra={"path": scope.get("path"), "error": f"{type(exc).__name__}: {exc}"},
            )
            if started:
                # Half a response is out: the only honest end is to abort it, which the
                # server does when the error reaches it (a client sees a broken answer).
                raise
            await _answer(send, temporary)


async def _answer(send: Any, temporary: bool) -> None:
    if temporary:
        status, message = 503, "prediction temporarily unavailable, retry later"
        extra = [(b"retry-after", b"%d" % RETRY_AFTER_SECONDS)]
    else:
        status, message, extra = 500, "internal error", []
    await send_json(send, status, error_body(message), extra)
