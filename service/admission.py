"""Request admission as one pure ASGI middleware (works the same under Mangum).

Before any route or dependency runs, the predict routes answer 401 without a
matching `x-api-key` (when `API_KEYS` is set) and 415 for a body that does not say
it is JSON, and every body over `max_bytes`, declared or streamed, gets 413.
Doing this here instead of in FastAPI dependencies keeps the cached path close to
the framework's floor: each dependency is solved again on every request.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any

import orjson

Scope = dict[str, Any]
GUARDED_PATHS = frozenset({"/predict", "/predict/batch"})


class AdmissionMiddleware:
    """API key, media type and body size checks, in that order."""

    def __init__(self, app: Any, max_bytes: int, api_keys: Iterable[str] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.api_keys = tuple(key.encode() for key in api_keys)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        if scope["path"] in GUARDED_PATHS:
            refusal = self._refusal(headers)
            if refusal is not None:
                await _answer(send, *refusal)
                return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _refusal(self, headers: dict[bytes, bytes]) -> tuple[int, dict, list] | None:
        if self.api_keys and not self._key_matches(headers.get(b"x-api-key", b"")):
            return 401, {"detail": "missing or invalid API key"}, [(b"www-authenticate", b"ApiKey")]
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media_type != b"application/json" and not media_type.endswith(b"+json"):
            return 415, {"detail": "content-type must be application/json"}, []
        return None

    def _key_matches(self, given: bytes) -> bool:
        """Every configured key is compared in constant time, so timing tells nothing."""
        matched = False
        for key in self.api_keys:
            matched |= hmac.compare_digest(given, key)
        return matched

    async def _too_large(self, send: Any) -> None:
        content = {"detail": f"request body larger than {self.max_bytes} bytes"}
        await _answer(send, 413, content | {"limit": self.max_bytes}, [])


async def _answer(send: Any, status: int, content: dict, extra: list) -> None:
    body = orjson.dumps(content)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers + extra})
    await send({"type": "http.response.body", "body": body})
