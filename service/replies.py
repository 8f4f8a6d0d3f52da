"""The one JSON error body every 4xx and 5xx the app answers has, and the raw ASGI
reply the middlewares send it with (they run before FastAPI can build a response).

    {"message": "<one human sentence>", ...}   (422 adds `detail` and `more`, 413 and 414
                                                `limit`)

An answer never grows with the request: a 422 lists at most `MAX_PROBLEMS` problems,
as many as fit in `MAX_ERROR_BYTES` (`more` counts the rest), its message names the
first `SAID_PROBLEMS`; a field, path or method the client chose is cut to
`MAX_NAME_CHARS`, and a problem's message (which may quote the client's value: a
union's tag, a validator's words) to `MAX_MESSAGE_CHARS`, a quoted value in it to
`MAX_NAME_CHARS`. So no error body passes 4 kB, and none repeats more than a cut prefix
of what was sent.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from pydantic import BaseModel, Field

Headers = list[tuple[bytes, bytes]]
MAX_PROBLEMS = 20
SAID_PROBLEMS = 5
MAX_NAME_CHARS = 64
MAX_MESSAGE_CHARS = 160
MAX_SAID_CHARS = 600  # the 422's `message`, naming the first problems
MAX_ERROR_BYTES = 4000  # a 422 body: under 4 kB, whatever the characters
_LONG_QUOTE = re.compile(rf"'([^']{{{MAX_NAME_CHARS + 1},}})'")


class ErrorBody(BaseModel):
    """What every error answer carries, for the OpenAPI schema."""

    message: str = Field(description="what went wrong, as one sentence")


class FieldError(BaseModel):
    field: str = Field(description="the payload field, dotted (`items.0.hour`)")
    message: str
    type: str = Field(description="a stable code for the rule that failed")


class ValidationErrorBody(ErrorBody):
    detail: list[FieldError] = Field(description=f"the first {MAX_PROBLEMS} problems")
    more: int = Field(description="problems the answer leaves out")


class TooLargeBody(ErrorBody):
    limit: int = Field(description="the largest body accepted, in bytes")


class TooLongQuery(ErrorBody):
    limit: int = Field(description="the longest query string accepted, in bytes")


# The error answers a guarded route can give, for its OpenAPI `responses`.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "several `x-api-key` or `content-length` headers"},
    401: {"model": ErrorBody, "description": "`x-api-key` is missing or wrong (`API_KEYS` set)"},
    413: {"model": TooLargeBody, "description": "body larger than `MAX_BODY_BYTES`"},
    414: {"model": TooLongQuery, "description": "query string longer than `MAX_QUERY_BYTES`"},
    415: {"model": ErrorBody, "description": "content-type is not JSON"},
    422: {"model": ValidationErrorBody, "description": "invalid payload; `message` names it"},
    500: {"model": ErrorBody, "description": "a bug: the error is logged"},
    503: {"model": ErrorBody, "description": "the model cannot be loaded now; see Retry-After"},
}


def error_body(message: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, **extra}


def short(name: str, limit: int = MAX_NAME_CHARS) -> str:
    """A name the client chose (a field, a path, a method), cut to `limit` characters."""
    return name if len(name) <= limit else f"{name[: limit - 1]}…"


def cut_message(message: str) -> str:
    """A problem's message with any long quoted value cut, then cut as a whole."""
    message = _LONG_QUOTE.sub(lambda quoted: f"'{short(quoted.group(1))}'", message)
    return short(message, MAX_MESSAGE_CHARS)


def problems_body(problems: list[dict[str, str]]) -> dict[str, Any]:
    """The 422 body for `problems` (`field`, `message`, `type` each): bounded, whatever
    the request held."""
    cut = [
        {"field": short(p["field"]), "message": cut_message(p["message"]), "type": short(p["type"])}
        for p in problems[:MAX_PROBLEMS]
    ]
    said = "; ".join(f"{p['field']}: {p['message']}" for p in cut[:SAID_PROBLEMS])
    said = short(said, MAX_SAID_CHARS)
    if len(problems) > SAID_PROBLEMS:
        said += f"; and {len(problems) - SAID_PROBLEMS} more"
    size = len(orjson.dumps(error_body(said, detail=[], more=len(problems))))
    listed = []
    for problem in cut:
        size += len(orjson.dumps(problem)) + 1
        if size > MAX_ERROR_BYTES:
            break
        listed.append(problem)
    return error_body(said, detail=listed, more=len(problems) - len(listed))


async def send_json(send: Any, status: int, content: dict, headers: Headers = ()) -> None:
    """A complete JSON response on a raw ASGI `send`."""
    body = orjson.dumps(content)
    base = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": base + list(headers)})
    await send({"type": "http.response.body", "body": body})
