"""A model's output in the JSON form every tier stores, checked in that form.

`predict_many` is user code: it may return numpy scalars and arrays (what
`model.predict(x)[i]` gives), enum members, dates, decimals, NaN, a wrong shape or
count, or a generator. A value must answer the same from L1, from L2 (JSON text) and
after a restart, so each one is made plain JSON (numpy's converted), validated by
`Value` as JSON (strict: `"1.5"` is no float, but `"2024-01-02"` is a date and `"a"`
an enum's member), and stored as `Value` writes it back (`stored_form`): an enum's
value, a date's ISO text, a decimal's digits. A stored value is valid only if `Value`
reads it and writes it back unchanged (`is_stored_form`), so no tier can hand out
something the model did not compute.

Non-finite numbers are refused unless `Value` explicitly allows them
(`model_config = ConfigDict(allow_inf_nan=True)`); then they are stored and answered
without loss as the strings `"NaN"`, `"Infinity"` and `"-Infinity"` (JSON has no such
numbers; pydantic's own `ser_json_inf_nan="strings"` form, which `Value` reads back).
Anything else is a `ModelOutputError`: a 500 logged once with the model's name, and
nothing cached.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import math
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

# how a non-finite float is written in a stored value (pydantic's "strings" form)
NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


class ModelOutputError(RuntimeError):
    """The model's predict call broke the contract: nothing of it is cached."""


def allows_non_finite(value_schema: type[BaseModel]) -> bool:
    """Whether `Value` opted in to NaN and infinities (pydantic's own default is lax)."""
    return value_schema.model_config.get("allow_inf_nan") is True


def _scalar(value: Any) -> Any:
    """A JSON scalar for an enum's member, a date or time, a decimal or UUID, a subclass
    of str or int; `value` itself when it is none of these."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return value


def _plain(value: Any, finite: bool, where: str) -> Any:
    """`value` in plain JSON types; raises ValueError naming `where`."""
    if value is None or type(value) in (bool, str, int):
        return value
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return _plain(value.tolist(), finite, where)  # a numpy scalar or array
    if isinstance(value, float):
        if finite and not math.isfinite(value):
            raise ValueError(f"{where} is {value}, not a finite number")
        return float(value)
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(), finite, where)
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise ValueError(f"{where} has a key that is not a string")
        return {key: _plain(item, finite, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item, finite, f"{where}[{i}]") for i, item in enumerate(value)]
    scalar = _scalar(value)
    if scalar is value:
        raise ValueError(f"{where} is a {type(value).__name__}, not a JSON value")
    return _plain(scalar, finite, where)


def _spelled(value: Any) -> Any:
    """Non-finite floats as their strings, everywhere in `value`."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else NON_FINITE[value]
    if isinstance(value, dict):
        return {key: _spelled(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_spelled(item) for item in value]
    return value


def stored_form(value_schema: type[BaseModel], validated: BaseModel) -> dict[str, Any]:
    """What a tier stores of a validated value: `Value`'s own JSON form."""
    dumped = validated.model_dump(mode="json")
    return _spelled(dumped) if allows_non_finite(value_schema) else dumped


def is_stored_form(value_schema: type[BaseModel], value: Any) -> bool:
    """Whether `value` (read from a tier) is what `stored_form` writes: `Value` reads it
    and writes it back unchanged (so `"1.5"` for a float, a missing or extra field, an
    enum's unknown member are all refused)."""
    if not isinstance(value, dict):
        return False
    try:
        return stored_form(value_schema, value_schema.model_validate(value)) == value
    except (ValidationError, TypeError, ValueError):
        return False


def _json_text(value: Any, finite: bool) -> str:
    # NaN and infinities as JSON's common extension (NaN, Infinity), which pydantic reads
    return json.dumps(value, allow_nan=not finite)


def json_values(value_schema: type[BaseModel], values: Iterable[Any], rows: int) -> list[Any]:
    """`values` (one per row, in order) as what a tier stores; `ModelOutputError` naming
    the first that is not one the `Value` schema accepts as JSON."""
    values = list(values)
    if len(values) != rows:
        raise ModelOutputError(f"predict_many returned {len(values)} values for {rows} rows")
    finite = not allows_non_finite(value_schema)
    stored = []
    for i, value in enumerate(values):
        try:
            plain = _plain(value, finite, f"value {i}")
            if not isinstance(plain, dict):
                raise ValueError(f"value {i} is a {type(value).__name__}, not an object")
            validated = value_schema.model_validate_json(_json_text(plain, finite), strict=True)
        except (ValueError, ValidationError) as exc:  # ValidationError is a ValueError
            said = str(exc).splitlines()
            raise ModelOutputError(
                f"predict_many returned a value its Value schema refuses: {' '.join(said[:3])}"
            ) from None
        stored.append(stored_form(value_schema, validated))
    return stored
