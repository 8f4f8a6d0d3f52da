"""A model's output, made JSON-safe and checked against its `Value` before any tier sees it.

`predict_many` is user code: it may return numpy scalars and arrays (what
`model.predict(x)[i]` gives), NaN, a wrong shape or count, or a generator. What a
tier stores must answer the same from L1, from L2 and after a restart, so values are
converted to plain JSON types here (numpy scalars to numbers, arrays to lists),
non-finite numbers are refused unless the `Value` schema explicitly allows them
(`model_config = ConfigDict(allow_inf_nan=True)`), and each value must pass `Value`
strictly. Anything else is a `ModelOutputError`: a 500 logged once with the model's
name, and nothing cached.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError


class ModelOutputError(RuntimeError):
    """The model's predict call broke the contract: nothing of it is cached."""


def _plain(value: Any, finite: bool, where: str) -> Any:
    """`value` in plain JSON types (numpy's converted); raises ValueError naming `where`."""
    if value is None or type(value) in (bool, str, int):
        return value
    if isinstance(value, str):  # a str enum's member
        return str(value)
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return _plain(value.tolist(), finite, where)  # a numpy scalar or array
    if isinstance(value, float):
        if finite and not math.isfinite(value):
            raise ValueError(f"{where} is {value}, not a finite number")
        return float(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise ValueError(f"{where} has a key that is not a string")
        return {key: _plain(item, finite, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, finite, f"{where}[{i}]") for i, item in enumerate(value)]
    raise ValueError(f"{where} is a {type(value).__name__}, not a JSON value")


def json_values(value_schema: type[BaseModel], values: Iterable[Any], rows: int) -> list[Any]:
    """`values` (one per row, in order) as what a tier stores; `ModelOutputError` naming
    the first that is not one the `Value` schema accepts."""
    values = list(values)
    if len(values) != rows:
        raise ModelOutputError(f"predict_many returned {len(values)} values for {rows} rows")
    finite = value_schema.model_config.get("allow_inf_nan") is not True
    plain = []
    for i, value in enumerate(values):
        try:
            converted = _plain(value, finite, f"value {i}")
            value_schema.model_validate(converted, strict=True)
        except (ValueError, ValidationError) as exc:  # ValidationError is a ValueError
            said = str(exc).splitlines()
            raise ModelOutputError(
                f"predict_many returned a value its Value schema refuses: {' '.join(said[:3])}"
            ) from None
        plain.append(converted)
    return plain
