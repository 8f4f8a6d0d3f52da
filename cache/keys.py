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
from typing import Any

import orjson


def canonical(payload: Mapping[str, Any]) -> bytes:
    """Compact JSON with sorted keys: one byte string per meaning."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def make_key(namespace: str, version: str, payload: Mapping[str, Any], *, schema: int) -> str:
    """Hex SHA-256 over the namespace, the version, the value schema and the payload."""
    digest = hashlib.sha256(namespace.encode())
    digest.update(b"\x00")
    digest.update(version.encode())
    digest.update(b"\x00%d\x00" % schema)
    digest.update(canonical(payload))
    return digest.hexdigest()
