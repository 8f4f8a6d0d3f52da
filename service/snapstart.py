"""AWS Lambda SnapStart runtime hooks: what must happen before the snapshot and after
each restore, so a restored container is as good as a fresh one, only faster.

Before the snapshot (once, when a version is published): the model is loaded and
verified, and optionally (`SNAPSTART_PRELOAD_FILE`: JSON Lines of payloads, the
schedule an operator expects to be hot, the one `predcache warm` is given) their L2
entries are read into L1 with batched reads. After each restore, state that every
restored copy would otherwise share is renewed: the container id, the random state
early refresh draws from, the DynamoDB client and its connections (the snapshot's
sockets are dead) and the circuit breaker, and app keys from SSM are read again
(`API_KEYS_PARAMETER`: a key revoked while the snapshot slept stays revoked). L1 runs
on the wall clock, so an entry's
L1 life counts from when it entered L1, across the snapshot, and a restore never
extends it; the preloaded entries, the L2 copy the snapshot was made for, enter L1
again at restore while they still have L2 life (as a fresh container would read
them from L2 on its first requests). Every read also checks `CACHE_TTL_SECONDS`
against the record's `created_at`. A restore whose hook fails leaves the container
refusing requests, with one log line saying why, rather than serving with the
snapshot's stale clients.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from cache import CacheRecord, CircuitBreaker
from service.invocation import InstrumentedHandler
from service.predictions import PredictionService, build_store
from service.settings import Settings

log = logging.getLogger("predcache.snapstart")


def before_snapshot(
    handler: InstrumentedHandler, settings: Settings, preloaded: dict[str, CacheRecord]
) -> None:
    """Load and verify the model; fill L1 (and `preloaded`) from L2 for the preload
    file's payloads."""
    predictions = handler.predictions
    predictions.artifact.pipeline()
    preload = settings.snapstart_preload_file
    if preload is not None and predictions.cache.store is not None:
        preloaded.update(_read_preload(predictions, preload))
        _refill(predictions, preloaded)
        log.info("snapshot: L1 filled from L2", extra={"entries": len(preloaded)})


def _read_preload(predictions: PredictionService, path: Path) -> dict[str, CacheRecord]:
    request = predictions.model.Request
    items = [request.model_validate(orjson.loads(line))
             for line in path.read_text().splitlines() if line.strip()]  # fmt: skip
    keys, _ = predictions.plan(items)
    return predictions.cache.store.get_many(keys).records


def _refill(predictions: PredictionService, records: dict[str, CacheRecord]) -> int:
    """Put into L1 the records still usable now (version, shape, L2 life)."""
    cache = predictions.cache
    now = time.time()
    usable = {k: r for k, r in records.items() if cache.live(r, now)}
    for key, record in usable.items():
        cache.memory.put(key, record)
    return len(usable)


def after_restore(
    handler: InstrumentedHandler, settings: Settings, preloaded: dict[str, CacheRecord]
) -> None:
    """Renew what restored copies must not share; on failure the container refuses."""
    try:
        handler.renew(uuid.uuid4().hex[:12])
        random.seed()  # from os.urandom: each restored copy draws its own refreshes
        cache = handler.predictions.cache
        cache.refresh.rng = random.Random().random
        if cache.store is not None:
            cache.store = build_store(settings)
        cache.breaker = CircuitBreaker(
            settings.l2_breaker_failures, settings.l2_breaker_cooldown_seconds
        )
        if cache.memory is not None and preloaded:
            _refill(handler.predictions, preloaded)
        if handler.keys is not None:  # keys revoked while the snapshot slept stay revoked
            handler.keys.renew()
    except Exception as exc:
        handler.refuse(f"restore failed: {type(exc).__name__}: {exc}")
        log.error("refusing to serve: restore failed", extra={"error": f"{exc}"})
        raise


def register(handler: InstrumentedHandler, settings: Settings) -> Any:
    """Register both hooks with the runtime (they run only under SnapStart)."""
    from snapshot_restore_py import register_after_restore, register_before_snapshot

    preloaded: dict[str, CacheRecord] = {}  # what the snapshot read from L2
    register_before_snapshot(before_snapshot, handler, settings, preloaded)
    register_after_restore(after_restore, handler, settings, preloaded)
