"""`POST /predict` answered before FastAPI routes it: the cached path, under a server
and under Mangum alike.

A profile of a cached `POST /predict` under uvicorn (2026-12-07, docs/benchmarks.md)
spends as much time in the framework's routing (matching, the request object,
dependency solving, running the endpoint, the response's send chain) as in the L1 hit
itself. This layer sits inside `AdmissionMiddleware`, so every key, header and size
check has run and the body is whole; it hands the body to the route's own answer
function (`routes.Routes.predict_body`, the same code the route runs) and sends what
it returns. A body that function refuses goes on to the router, which answers the
422 as it answers every route's; other routes and methods pass through untouched.
Paths are matched without the root path, as admission matches them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Response
from fastapi.exceptions import RequestValidationError

from service.admission import Scope, route_of


class FastPath:
    """Pure ASGI: `method path` answered by `answer(body)` without the router."""

    def __init__(
        self, app: Any, method: str, path: str, answer: Callable[[bytes], Awaitable[Response]]
    ) -> None:
        self.app = app
        self.method = method
        self.path = path
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        ours = scope["type"] == "http" and scope["method"] == self.method
        if not ours or route_of(scope) != self.path:
            await self.app(scope, receive, send)
            return
        first = await receive()  # AdmissionMiddleware replays the whole body at once
        if first["type"] != "http.request" or first.get("more_body", False):
            await self.app(scope, _replay(first, receive), send)
            return
        try:
            response = await self.answer(first.get("body", b""))
        except RequestValidationError:
            await self.app(scope, _replay(first, receive), send)
            return
        await response(scope, receive, send)


def _replay(first: dict[str, Any], receive: Any) -> Callable[[], Awaitable[dict[str, Any]]]:
    """`receive` with `first`, already taken from it, given back first."""
    given = False

    async def replayed() -> dict[str, Any]:
        nonlocal given
        if given:
            return await receive()
        given = True
        return first

    return replayed
