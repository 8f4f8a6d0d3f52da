"""FastAPI dependencies: what a route needs, taken from the app that serves it.

All `async`: they never block, and a sync dependency would cost a thread-pool hop.
Admission checks (API key, media type, body size) are not dependencies: they run
in `service.admission`, before any dependency is solved.
"""

from __future__ import annotations

from fastapi import Request

from service.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings
