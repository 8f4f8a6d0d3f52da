"""`predcache inspect|purge '<payload JSON>'`: one payload's cache entry.

    inspect   the key, and the L2 item if any: model version, value schema, created,
              expires, age, whether the service would use it (and why not), the value
    purge     delete that payload's L2 item (the next request recomputes it)

Same flags as `predcache warm` for the table and model (`--local` for `make serve`'s
table, `--table`/`--endpoint`, `--model-path`). L1 lives inside each serving process
and is not visible from here (its counters are in `GET /stats`); it expires by
`L1_TTL_SECONDS`. Admin actions stay off the public HTTP API on purpose.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from cache import CacheRecord
from cache.errors import StoreError
from model.artifact import ArtifactError
from model.contract import ModelError, model_class
from service.ops.target import add_target_arguments, resolve_target
from service.predictions import PredictionService, build_prediction_service
from service.settings import Settings, SettingsError


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def describe(record: CacheRecord | None, predictions: PredictionService) -> dict[str, Any]:
    """The L2 item as a person reads it, with the verdict the read path would reach."""
    if record is None:
        return {"present": False}
    if record.corrupt:
        return {"present": True, "usable": False, "why": "corrupt: cannot be decoded"}
    now = time.time()
    reasons = [
        why
        for bad, why in (
            (record.version != predictions.identity, f"model version {record.version}"),
            (record.schema != predictions.cache.schema, f"value schema {record.schema}"),
            (record.is_expired(now), "expired"),
            (
                not record.is_expired(now)
                and record.is_expired(now, predictions.cache.ttl_seconds),
                f"older than this deployment's CACHE_TTL_SECONDS={predictions.cache.ttl_seconds}",
            ),
            (not predictions.model.is_valid(record.value), "value is not what the model returns"),
        )
        if bad
    ]
    return {
        "present": True,
        "usable": not reasons,
        "why": "; ".join(reasons) or None,
        "model_version": record.version,
        "value_schema": record.schema,
        "created": _when(record.created_at),
        "expires": _when(record.expires_at),
        "age_s": round(now - record.created_at, 1),
        "compute_ms": record.compute_ms,
        "value": record.value,
    }


def _cell(predictions: Any, row: dict[str, Any]) -> dict[str, Any]:
    """The request's cell, for a model keyed by its ensemble's intervals: each interval
    field's cell and the thresholds either side of it, as the library compares (every
    request in it shares the entry and the answer)."""
    cells = predictions.cells
    if cells is None:
        return {}
    shown = {}
    for name, thresholds, zero in cells.columns:
        cell = cells.cell(row[name], thresholds, zero)
        if cell == "zero":
            shown[name] = {"cell": cell}
            continue
        low = thresholds[cell - 1] if cell > 0 else None
        high = thresholds[cell] if cell < len(thresholds) else None
        shown[name] = {"cell": cell, "low": low, "high": high}
    # `le`: a cell holds low < x <= high (x <= t goes left); `lt`: low <= x < high
    return {"cell": shown, "cell_bounds": cells.comparison}


def run_action(action: str, argv: list[str] | None = None) -> int:
    """`inspect` or `purge` one payload's entry; prints a JSON report."""
    parser = argparse.ArgumentParser(
        prog=f"predcache {action}", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("payload", help="a /predict body, as JSON")
    add_target_arguments(parser)
    args = parser.parse_args(argv)
    try:
        request = model_class(Settings.from_env().model).Request.model_validate_json(args.payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(map(str, first["loc"])) or "payload"
        print(f"predcache {action}: invalid payload: {field}: {first['msg']}", file=sys.stderr)
        return 2
    except (ModelError, SettingsError) as exc:
        print(f"predcache {action}: {exc}", file=sys.stderr)
        return 2
    try:
        target = resolve_target(args)
        store = target.store(timeout=5.0, max_attempts=3)
        predictions = build_prediction_service(target.settings, store=store)
    except (SettingsError, ArtifactError, FileNotFoundError, StoreError) as exc:
        print(f"predcache {action}: {exc}", file=sys.stderr)
        return 2
    try:
        key = predictions.key(request)
        record = store.get(key)
        purged = action == "purge" and store.delete(key)
    except StoreError as exc:
        print(f"predcache {action}: {exc}", file=sys.stderr)
        return 2
    report = {
        "key": key,
        **_cell(predictions, request.model_dump()),
        "table": target.settings.cache_table,
        "where": target.where(store),
        "l1": "per serving process; not visible from here (see GET /stats)",
        "l2": describe(record, predictions),
    }
    if action == "purge":
        report["purged"] = purged
        ttl = target.settings.l1_ttl_seconds
        report["note"] = (
            f"deleted from L2 only: running servers and Lambda containers that hold the entry "
            f"in L1 keep answering it for up to L1_TTL_SECONDS ({ttl} s)"
        )
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    return 0


def inspect(argv: list[str] | None = None) -> int:
    return run_action("inspect", argv)


def purge(argv: list[str] | None = None) -> int:
    return run_action("purge", argv)
