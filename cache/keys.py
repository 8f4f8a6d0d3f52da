"""Cache keys: a hash of (namespace, version, value schema, canonical payload).

Hash the *validated* payload, never the raw body: validation turns `719.0` into
`719` and upper-cases codes, and canonical JSON sorts the keys, so payloads that
mean the same share a key while any changed field gives another. The version is
part of the key, so a new model never reads its predecessor's entries; so is the
value schema, so a release that changes what is cached never reads the old shape.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

_NON_STR_KEYS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _beyond_json(value: Any) -> Any:
    """What orjson cannot write itself: a decimal as its digits, a set as its items in
    their canonical order (a set's own order differs between processes)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=canonical)
    raise TypeError(f"a {type(value).__name__} has no canonical JSON form")


def canonical(payload: Any) -> bytes:
    """Compact JSON with sorted keys: one byte string per meaning (an integer key is
    written as text, as JSON writes it). TypeError for a value with no JSON form."""
    try:
        return orjson.dumps(payload, default=_beyond_json, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        if not isinstance(exc.__cause__, TypeError):  # a dict[int, …]: keys as text
            return orjson.dumps(payload, default=_beyond_json, option=_NON_STR_KEYS)
        raise TypeError(str(exc.__cause__)) from None


def make_key(namespace: str, version: str, payload: Mapping[str, Any], *, schema: int) -> str:
    """Hex SHA-256 over the namespace, the version, the value schema and the payload."""
    digest = hashlib.sha256(namespace.encode())
    digest.update(b"\x00")
    digest.update(version.encode())
    digest.update(b"\x00%d\x00" % schema)
    digest.update(canonical(payload))
    return digest.hexdigest()
