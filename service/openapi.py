"""The published OpenAPI document, built at the first `/openapi.json` as FastAPI builds
its own, never at start.

Routes are declared bare (`response_model=None`, no `responses`): for each model of
each route FastAPI would build a pydantic field, and import `pydantic.v1` to check it is
none, ~35 ms of every cold start (docs/benchmarks.md) for a document only a docs page
or a client generator asks for. Each route says instead what it reads and answers
(`Operation`), and `published` writes that into the document: the request body or
query parameters, the 200 and the error answers, their models in `components`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

Route = tuple[str, str]  # path, method (lower case)


@dataclass(frozen=True)
class Operation:
    """What one route reads and answers, for its place in the document."""

    extra: Callable[[], dict[str, Any]] = dict  # its requestBody or parameters, made late
    answer: type[BaseModel] | None = None  # the 200's body
    errors: Mapping[int | str, Mapping[str, Any]] = field(default_factory=dict)


def published(app: FastAPI, operations: Mapping[Route, Operation]) -> Callable[[], dict]:
    """`app.openapi`: FastAPI's document of `app`'s routes, with `operations` written in,
    made once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            _write(document, operations)
            app.openapi_schema = document
        return app.openapi_schema

    return openapi


def _write(document: dict[str, Any], operations: Mapping[Route, Operation]) -> None:
    from pydantic.json_schema import models_json_schema

    models = {o.answer for o in operations.values() if o.answer is not None}
    models |= {e["model"] for o in operations.values() for e in o.errors.values()}
    ordered = sorted(models, key=lambda model: model.__name__)
    _, schemas = models_json_schema(
        [(model, "serialization") for model in ordered],
        ref_template="#/components/schemas/{model}",
    )
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(sorted(schemas.get("$defs", {}).items()))
    for (path, method), operation in operations.items():
        entry = document["paths"][path][method]
        entry |= operation.extra()
        responses = entry.setdefault("responses", {})
        if operation.answer is not None:
            responses["200"] = _answer("Successful Response", operation.answer)
        for status, error in operation.errors.items():
            responses[str(status)] = _answer(error["description"], error["model"])


def _answer(description: str, model: type[BaseModel]) -> dict[str, Any]:
    reference = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"description": description, "content": {"application/json": {"schema": reference}}}
