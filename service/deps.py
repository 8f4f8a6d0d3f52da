"""FastAPI dependencies: what a route needs, taken from the app that serves it.

All `async`: they never block, and a sync dependency would cost a thread-pool hop.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from service.predictions import PredictionService
from service.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_predictions(request: Request) -> PredictionService:
    return request.app.state.predictions


async def require_json(request: Request) -> None:
    """Refuse bodies that do not say they are JSON (415) before parsing them."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail="content-type must be application/json",
        )


async def require_api_key(
    settings: Annotated[Settings, Depends(get_settings)],
    x_api_key: Annotated[str | None, Header()] = None,
) -> None:
    """When `API_KEYS` is set, predict routes need a matching `x-api-key` (401 otherwise).

    Every configured key is compared in constant time, so timing tells nothing.
    """
    keys = settings.api_keys
    if not keys:
        return
    given = (x_api_key or "").encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.encode())
    if not matched:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API key",
            headers={"WWW-Authenticate": "ApiKey"},
        )
