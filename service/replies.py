"""The one JSON error body every 4xx and 5xx the app answers has, and the raw ASGI
reply the middlewares send it with (they run before FastAPI can build a response).

    {"message": "<one human sentence>", ...}   (422 adds `detail`, 413 adds `limit`)
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, Field

Headers = list[tuple[bytes, bytes]]


class ErrorBody(BaseModel):
    """What every error answer carries, for the OpenAPI schema."""

    message: str = Field(description="what went wrong, as one sentence")


class FieldError(BaseModel):
    field: str = Field(description="the payload field, dotted (`items.0.hour`)")
    message: str
    type: str = Field(description="a stable code for the rule that failed")


class ValidationErrorBody(ErrorBody):
    detail: list[FieldError]


class TooLargeBody(ErrorBody):
    limit: int = Field(description="the largest body accepted, in bytes")


# The error answers a guarded route can give, for its OpenAPI `responses`.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "several `x-api-key` or `content-length` headers"},
    401: {"model": ErrorBody, "description": "`x-api-key` is missing or wrong (`API_KEYS` set)"},
    413: {"model": TooLargeBody, "description": "body larger than `MAX_BODY_BYTES`"},
    415: {"model": ErrorBody, "description": "content-type is not JSON"},
    422: {"model": ValidationErrorBody, "description": "invalid payload; `message` names it"},
    500: {"model": ErrorBody, "description": "a bug: the error is logged"},
    503: {"model": ErrorBody, "description": "the model cannot be loaded now; see Retry-After"},
}


def error_body(message: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, **extra}


async def send_json(send: Any, status: int, content: dict, headers: Headers = ()) -> None:
    """A complete JSON response on a raw ASGI `send`."""
    body = orjson.dumps(content)
    base = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": base + list(headers)})
    await send({"type": "http.response.body", "body": body})
