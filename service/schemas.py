"""Request and response bodies of the HTTP contract (README: The API), validation only.

The payload and the predicted value are the model's (`model.contract`): the bodies
around them are built here from its `Request` and `Value`, once per app.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from model.contract import Model, rounded_fields
from service.keys import KeyState

MAX_BATCH_ITEMS = 1000
CacheOutcome = Literal["HIT-L1", "HIT-L2", "MISS"]
M = TypeVar("M", bound=BaseModel)


# 64-bit integers: what a key's canonical JSON (orjson) can carry
INT_RANGE = (-(2**63), 2**64 - 1)


def _duplicate_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen = dict(pairs)
    if len(seen) != len(pairs):
        names = [name for name, _ in pairs]
        raise ValueError(next(n for n in names if names.count(n) > 1))
    return seen


def _keys_given(node: Any) -> int:
    """How many keys the JSON that validated into `node` held (fields it set, nested)."""
    if isinstance(node, BaseModel):
        given = node.model_fields_set
        return len(given) + sum(_keys_given(getattr(node, name)) for name in given)
    if isinstance(node, list | tuple):
        return sum(_keys_given(item) for item in node)
    return 0


# a key written with white space before its colon escapes the `":` count
_QUOTE_SPACE = (b'" ', b'"\n', b'"\r', b'"\t')


def duplicate_key(body: bytes, parsed: BaseModel) -> str | None:
    """The first key a JSON object of `body` repeats, or None. Fast when the body has
    as many `":` as `parsed` has keys (no duplicate can hide then); otherwise (a
    duplicate, a string holding `":`, white space after a string) it is parsed again,
    keeping every pair."""
    colons = body.count(b'":')
    if not any(space in body for space in _QUOTE_SPACE) and (
        colons == len(parsed.model_fields_set) or colons == _keys_given(parsed)
    ):
        return None
    try:
        json.loads(body, object_pairs_hook=_duplicate_key)
    except ValueError as exc:
        return str(exc)
    return None


def unkeyable(row: Any, loc: tuple) -> list[dict[str, Any]]:
    """The values of a validated request a key cannot carry with one meaning: a
    non-finite float (JSON has none: NaN, Infinity and null would share a key) and an
    integer past 64 bits; one field error each."""
    if isinstance(row, float) and not math.isfinite(row):
        return [{"type": "finite_number", "loc": loc, "msg": "Input should be a finite number"}]
    if (
        isinstance(row, int)
        and not isinstance(row, bool)
        and not INT_RANGE[0] <= row <= INT_RANGE[1]
    ):
        return [{"type": "int_too_big", "loc": loc,
                 "msg": "Input should be an integer within 64 bits"}]  # fmt: skip
    if isinstance(row, dict):
        return [e for name, value in row.items() for e in unkeyable(value, (*loc, name))]
    if isinstance(row, list | tuple):
        return [e for i, value in enumerate(row) for e in unkeyable(value, (*loc, i))]
    return []


def keyable(items: list[M], loc: tuple, *, indexed: bool = False) -> list[M]:
    """`items`, or a 422 naming each field whose value a key cannot carry (`loc`, and
    the item's index in a batch)."""
    errors = []
    for i, item in enumerate(items):
        row = item.model_dump()
        try:  # fast: what the key's JSON would hold (orjson writes NaN as null)
            if b"null" not in orjson.dumps(row):
                continue
        except orjson.JSONEncodeError:
            pass
        errors += unkeyable(row, (*loc, i) if indexed else loc)
    if errors:
        raise RequestValidationError(errors)
    return items


def parse_body(model: type[M], body: bytes) -> M:
    """`model` from raw JSON bytes; a 422 naming the fields, as a declared body would get,
    and naming a key the body gives twice (as a repeated query parameter is)."""
    try:
        parsed = model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from None
    repeated = duplicate_key(body, parsed)
    if repeated is not None:
        raise RequestValidationError(
            [{"type": "repeated", "loc": ("body", repeated), "msg": "Given more than once"}]
        )
    return parsed


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI `requestBody` of a route that parses `model` itself (nested models
    inlined: a `#/$defs/…` reference means nothing inside an OpenAPI document)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return {"required": True, "content": {"application/json": {"schema": inline(schema)}}}


def field_schemas(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """Each request field's JSON schema, references inlined (what OpenAPI shows)."""
    return json_body(model)["content"]["application/json"]["schema"]["properties"]


def _kind(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field's non-null alternative (`X | None` is `anyOf: [X, null]`)."""
    options = [o for o in schema.get("anyOf", ()) if o.get("type") != "null"]
    return options[0] if len(options) == 1 else schema


def _is_number(schema: dict[str, Any]) -> bool:
    kind = _kind(schema)
    return kind.get("type") in ("number", "integer") or (
        "enum" in kind and all(isinstance(v, int | float) for v in kind["enum"])
    )


def get_refusal(model: type[BaseModel]) -> str | None:
    """Why a query string cannot carry `model` (a field that is an object, or a list of
    them or of lists), or None: then GET /predict is left out for it."""
    for name, schema in field_schemas(model).items():
        kind = _kind(schema)
        items = []
        if kind.get("type") == "array":
            items = [_kind(i) for i in [kind.get("items", {}), *kind.get("prefixItems", ())]]
        if (
            "anyOf" in kind
            or kind.get("type") == "object"
            or any(i.get("type") in ("object", "array") or "anyOf" in i for i in items)
        ):
            return f"field {name!r} is {'a list of ' if items else ''}objects or a union"
    return None


def _number(raw: str) -> Any:
    with contextlib.suppress(orjson.JSONDecodeError):
        number = orjson.loads(raw)
        if isinstance(number, int | float) and not isinstance(number, bool):
            return number
    return raw


def _member_reader(members: list[Any]) -> Callable[[str], Any]:
    """An enum of mixed members (`Literal["a", 1]`): the member whose JSON text, or whose
    own text, the parameter is; anything else as text, for the schema to refuse."""
    by_text = {m if isinstance(m, str) else orjson.dumps(m).decode(): m for m in members}
    return lambda raw: by_text.get(raw, raw)


def _reader(schema: dict[str, Any]) -> Callable[[str], Any]:
    """How a query parameter's text becomes its field's JSON value: numbers (and number
    enums) as JSON numbers, `true`/`false`, a list or tuple as its items separated by
    commas (OpenAPI `style: form, explode: false`), each item read by its own schema;
    anything else as text, for the schema to judge."""
    kind = _kind(schema)
    if kind.get("type") == "array" and "prefixItems" in kind:  # a tuple: each place its own
        places = [_reader(item) for item in kind["prefixItems"]]
        rest = _reader(kind.get("items", {}))

        def read_tuple(raw: str) -> list[Any]:
            parts = raw.split(",") if raw else []
            return [(places[i] if i < len(places) else rest)(p) for i, p in enumerate(parts)]

        return read_tuple
    if kind.get("type") == "array":
        item = _reader(kind.get("items", {}))
        return lambda raw: [item(part) for part in raw.split(",")] if raw else []
    if kind.get("type") == "boolean":
        return lambda raw: raw == "true" if raw in ("true", "false") else raw
    if "enum" in kind and not _is_number(kind):
        return _member_reader(kind["enum"])
    return _number if _is_number(kind) else str


@functools.cache
def _readers(model: type[BaseModel]) -> dict[str, Callable[[str], Any]]:
    """Each field's reader, made once per model (a GET uses them on every request)."""
    return {name: _reader(schema) for name, schema in field_schemas(model).items()}


def query_pairs(raw: bytes) -> list[tuple[str, str]]:
    """A query string's parameters, percent-decoded as UTF-8 and refused (422) when they
    are not UTF-8: read with replacement characters, `%FF` would share the key of a
    POST that sends U+FFFD."""
    try:
        return parse_qsl(raw.decode("latin-1"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        message = "The query string is not UTF-8 once percent-decoded"
        raise RequestValidationError(
            [{"type": "utf8", "loc": ("query",), "msg": message}]
        ) from None


def parse_query(model: type[M], pairs: list[tuple[str, str]]) -> M:
    """`model` from a query string whose parameters are its fields: the same validation,
    and so the same canonical form and key, as the JSON body of a POST. Each value is
    read as its field's JSON value (`_reader`); an absent optional field takes its
    default; a repeated parameter is refused (which one would count?)."""
    values: dict[str, Any] = {}
    errors = []
    readers = _readers(model)
    for name, raw in pairs:
        if name in values:
            message = "Given more than once"
            errors.append({"type": "repeated", "loc": ("query", name), "msg": message})
            continue
        values[name] = readers[name](raw) if name in readers else raw
    if errors:
        raise RequestValidationError(errors)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_input=False)]
        ) from None


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The OpenAPI parameters of a GET whose query string is `model`'s fields: a list
    is one parameter, its items separated by commas (`style: form, explode: false`:
    one value per name, which API Gateway's cache key can carry)."""
    schema = json_body(model)["content"]["application/json"]["schema"]
    required = set(schema.get("required", ()))
    parameters = []
    for name, field in schema["properties"].items():
        parameter = {"name": name, "in": "query", "required": name in required, "schema": field}
        if _kind(field).get("type") == "array":
            parameter |= {"style": "form", "explode": False}
        parameters.append(parameter)
    return parameters


@dataclass(frozen=True)
class Bodies:
    """The request and response bodies of one model's routes."""

    Request: type[BaseModel]
    Prediction: type[BaseModel]
    BatchRequest: type[BaseModel]
    BatchResponse: type[BaseModel]

    @classmethod
    def of(cls, model: type[Model]) -> Bodies:
        fields: dict[str, Any] = {
            "model_version": (str, ...),
            "cache": (CacheOutcome, Field(description="the tier that answered")),
        }
        if rounded_fields(model.Request):
            fields["input"] = (
                model.Request,
                Field(description="the request as computed: rounded as the model declares"),
            )
        prediction = create_model("Prediction", __base__=model.Value, **fields)
        batch_prediction = create_model(
            "BatchPrediction",
            __base__=prediction,
            age_s=(float, Field(ge=0, description="seconds since the value was computed")),
        )
        batch_request = create_model(
            "BatchRequest",
            __config__=ConfigDict(extra="forbid"),
            items=(list[model.Request], Field(min_length=1, max_length=MAX_BATCH_ITEMS)),
        )
        batch_response = create_model(
            "BatchResponse", predictions=(list[batch_prediction], ...), cache=(BatchTotals, ...)
        )
        return cls(model.Request, prediction, batch_request, batch_response)


class BatchTotals(BaseModel):
    hit_l1: int
    hit_l2: int
    miss: int


class Health(BaseModel):
    status: Literal["ok"]
    model: str
    model_version: str
    model_loaded: bool
    cache_mode: str
    # the app's own key check (service/keys.py): off, ok, kept (last good keys, the
    # parameter unreadable for now), revoked or unreadable (every key refused)
    api_keys: KeyState
