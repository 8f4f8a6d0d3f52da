"""What the service caches for one flight, and the check every read applies to it.

`VALUE_SCHEMA` is part of every cache key and L2 item: bump it whenever the shape
of the cached value changes, so a new release never reads what an older one wrote.
"""

from __future__ import annotations

import math
from typing import Any

from model.features import CATEGORICAL

VALUE_SCHEMA = 1
_UNKNOWN_FIELDS = frozenset(CATEGORICAL)


def make_value(probability: float, unknown: list[str]) -> dict[str, Any]:
    return {"delay_probability": probability, "unknown": unknown}


def is_valid(value: Any) -> bool:
    """Exactly what `make_value` builds: a probability in [0, 1], known field names."""
    if not isinstance(value, dict) or value.keys() != {"delay_probability", "unknown"}:
        return False
    probability, unknown = value["delay_probability"], value["unknown"]
    return (
        isinstance(probability, float | int)
        and not isinstance(probability, bool)
        and math.isfinite(probability)
        and 0.0 <= probability <= 1.0
        and isinstance(unknown, list)
        and all(isinstance(name, str) and name in _UNKNOWN_FIELDS for name in unknown)
    )
