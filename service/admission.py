"""Request admission as one pure ASGI middleware (works the same under Mangum).

Before any route or dependency runs: several `x-api-key`, `content-length` or
`content-type` headers get 400 (servers disagree on which one wins); when `API_KEYS`
or `API_KEYS_PARAMETER` is set (service/keys.py), every route but `PUBLIC_ROUTES`
needs a matching `x-api-key` (401: it fails closed, so a route added later is guarded
too); a body that says it is something
other than JSON gets 415 (one that says nothing is read as JSON, as FastAPI does and
as API Gateway test events built by AWS SAM need); a query string over
`max_query_bytes` gets 414 before anything parses it (every door hands the app the
query); and every body over `max_bytes`, declared or streamed, gets 413. Routes are matched
without the root path, so a server mounted under a prefix is guarded the same.
Doing this here instead of in FastAPI dependencies keeps the cached path close to
the framework's floor: each dependency is solved again on every request.
"""

from __future__ import annotations

import hmac
from typing import Any

from service.keys import KeySource
from service.replies import error_body, send_json

Scope = dict[str, Any]
PUBLIC_ROUTES = frozenset({"/health"})  # answered without a key: a load balancer's probe
SINGLE_HEADERS = (b"x-api-key", b"content-length", b"content-type")
BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def route_of(scope: Scope) -> str:
    """The path the app routes on: `scope["path"]` without the root path."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


class AdmissionMiddleware:
    """Header, API key, query length, media type and body size checks, in that order."""

    def __init__(
        self, app: Any, max_bytes: int, max_query_bytes: int, keys: KeySource | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_query_bytes = max_query_bytes
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await send_json(send, *refusal)
        elif scope["method"] in BODYLESS_METHODS:
            await self.app(scope, receive, send)
        else:
            await self._with_body(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, dict, list] | None:
        headers: dict[bytes, bytes] = {}
        for name, value in scope.get("headers", ()):  # one pass: the hot path runs this
            if name in headers and name in SINGLE_HEADERS:
                return 400, error_body(f"send one {name.decode()} header, not several"), []
            headers[name] = value
        if self._needs_key(scope) and not self._key_matches(headers.get(b"x-api-key", b"")):
            body = error_body("missing or invalid API key (send it as x-api-key)")
            return 401, body, [(b"www-authenticate", b"ApiKey")]
        if len(scope.get("query_string", b"")) > self.max_query_bytes:
            message = f"query string longer than {self.max_query_bytes} bytes: send a POST body"
            return 414, error_body(message, limit=self.max_query_bytes), []
        if scope["method"] in BODYLESS_METHODS:
            return None
        media_type = headers.get(b"content-type", b"application/json")
        media_type = media_type.split(b";")[0].strip().lower()
        if media_type != b"application/json" and not media_type.endswith(b"+json"):
            return 415, error_body("content-type must be application/json"), []
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return self._too_large()
        return None

    def _needs_key(self, scope: Scope) -> bool:
        return self.keys is not None and route_of(scope) not in PUBLIC_ROUTES

    def _key_matches(self, given: bytes) -> bool:
        """Every current key is compared in constant time, so timing tells nothing."""
        matched = False
        for key in self.keys.current():
            matched |= hmac.compare_digest(given, key)
        return matched

    def _too_large(self) -> tuple[int, dict, list]:
        message = f"request body larger than {self.max_bytes} bytes"
        return 413, error_body(message, limit=self.max_bytes), []

    async def _with_body(self, scope: Scope, receive: Any, send: Any) -> None:
        """Read the whole body (refusing it past `max_bytes`), then replay it to the app."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await send_json(send, *self._too_large())
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
