"""FastAPI dependencies: what a route needs, taken from the app that serves it.

All `async`: they never block, and a sync dependency would cost a thread-pool hop.
The predict routes take one `guard` (key, then media type): every dependency is
solved per request, and the cached path should cost little more than `/health`.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status

from service.predictions import PredictionService
from service.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_predictions(request: Request) -> PredictionService:
    return request.app.state.predictions


def _key_matches(given: str, keys: frozenset[str]) -> bool:
    """Every configured key is compared in constant time, so timing tells nothing."""
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given.encode(), key.encode())
    return matched


async def guard(request: Request) -> None:
    """401 without a matching `x-api-key` when `API_KEYS` is set, then 415 for a body
    that does not say it is JSON; both before the body is parsed."""
    keys = request.app.state.settings.api_keys
    if keys and not _key_matches(request.headers.get("x-api-key", ""), keys):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API key",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail="content-type must be application/json",
        )
