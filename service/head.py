"""`HEAD` answered wherever `GET` is: the same status and headers, no body (RFC 9110,
section 9.3.2). FastAPI's routes take only the methods they declare, so a `HEAD` would
be a 405 on every `GET` route; this pure ASGI layer, outermost, asks the app the `GET`
and drops the body, so key checks, errors and every route (the docs pages too) answer
`HEAD` alike, under a server and Mangum."""

from __future__ import annotations

from typing import Any


class HeadAsGet:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
