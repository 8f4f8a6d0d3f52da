"""Validated requests → cache keys → cached or computed predictions, for the model
`MODEL` names (`model.contract`)."""

from __future__ import annotations

import copy
import logging
import pickle
import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from cache import (
    CircuitBreaker,
    ComputeMany,
    DynamoDBStore,
    EarlyRefresh,
    ErrorKind,
    Lookup,
    MemoryStore,
    RecordStore,
    StoreError,
    TieredCache,
    make_client,
    make_key,
    tally,
)
from model.artifact import ArtifactError
from model.contract import Model, ModelError, load_model
from model.values import ModelOutputError, json_values
from service.errors import ModelUnavailable
from service.metrics import EmfMetrics
from service.settings import Settings, SettingsError

log = logging.getLogger("predcache.predict")

# validated requests' keys, the one model run for the keys a cache lacks, and the
# canonical rows (what an answer says it was computed for)
Plan = tuple[list[str], ComputeMany, list[dict[str, Any]]]


class PredictionService:
    """Answers prediction requests through the tiered cache, the model only on misses.

    `inline` runs blocking work (DynamoDB, the model) on the caller's thread: right
    under Mangum, where a container serves one request at a time and a thread-pool
    hop only adds latency. A server keeps its event loop free with a worker thread.
    """

    def __init__(
        self,
        model: Model,
        cache: TieredCache,
        metrics: EmfMetrics | None = None,
        *,
        inline: bool = False,
    ) -> None:
        self.model = model
        self.artifact = model.artifact
        self.identity = model.identity  # the version keys and stored items carry
        self.cells = model.cells
        self.cache = cache
        self.metrics = metrics
        self.inline = inline

    @property
    def version(self) -> str:
        return self.artifact.version

    @property
    def region(self) -> str | None:
        """The region the L2 client signs for: what the start-up line prints is what is used."""
        client = getattr(self.cache.store, "client", None)
        return client.meta.region_name if client is not None else None

    @property
    def caching(self) -> bool:
        """Whether results are kept (cache mode is not `off`)."""
        return self.cache.memory is not None or self.cache.store is not None

    def key(self, request: BaseModel) -> str:
        """The cache key of a validated request."""
        return self._key_of(request.model_dump())

    def _key_of(self, row: dict[str, Any]) -> str:
        if self.cells is not None:  # a tree ensemble's fields: keyed by their interval
            row = self.cells.key_row(row)
        return make_key(self.artifact.name, self.identity, row, schema=self.model.value_schema)

    def plan(self, items: Sequence[BaseModel]) -> tuple[list[str], ComputeMany]:
        """Validated requests → their keys, and the one model run a cache calls with the
        keys it lacks (the request path and the warmer both start here)."""
        keys, compute, _rows = self.plan_rows(items)
        return keys, compute

    def plan_rows(self, items: Sequence[BaseModel]) -> Plan:
        """`plan`, and the canonical rows (what an answer says it was computed for)."""
        rows = [item.model_dump() for item in items]
        keys = [self._key_of(row) for row in rows]
        return keys, self._compute_for(dict(zip(keys, rows, strict=True))), rows

    def _load(self) -> None:
        """Unpickle the model on first need; a failure is temporary (503), not a bug."""
        if self.artifact.loaded:
            return
        try:
            self.artifact.pipeline()
        except (ArtifactError, OSError, pickle.UnpicklingError, ImportError) as exc:
            raise ModelUnavailable(str(exc)) from exc

    def _compute_for(self, rows_by_key: dict[str, dict[str, Any]]) -> ComputeMany:

        def compute(keys: list[str]) -> list[dict[str, Any]]:
            self._load()
            # copies: a model may change its rows in place (a preprocessing step), and a
            # plan's rows are kept (a repeated body's, service/routes.py) and echoed
            rows = [copy.deepcopy(rows_by_key[key]) for key in keys]
            try:
                return json_values(self.model.Value, self.model.predict_many(rows), len(rows))
            except ModelOutputError as exc:
                raise ModelOutputError(f"MODEL {self.model.name}: {exc}") from None

        return compute

    async def lookup(
        self, items: Sequence[BaseModel], route: str
    ) -> tuple[list[Lookup], list[dict[str, Any]]]:
        """One lookup per item, in order (identical items are done once), and the rows
        they were computed for.

        L1 hits are answered on the event loop; the rest runs inline or in a
        worker thread (see `inline`). Emits one metrics or log line per request.
        """
        return await self.lookup_plan(self.plan_rows(items), route)

    async def lookup_plan(
        self, plan: Plan, route: str
    ) -> tuple[list[Lookup], list[dict[str, Any]]]:
        """`lookup` of what `plan_rows` made (a caller that keeps plans skips re-keying)."""
        started = time.perf_counter()
        keys, compute, rows = plan
        queue = self.cache.stats.l2_queue
        cut = queue.cut_calls
        if self.inline:
            lookups = self.cache.get_or_compute_many(keys, compute)
        else:
            pending = self.cache.lookup_memory(keys)
            if pending.complete:
                lookups = self.cache.resolve(pending, compute)
            else:
                lookups = await run_in_threadpool(self.cache.resolve, pending, compute)
        elapsed_ms = round(1000 * (time.perf_counter() - started), 3)
        outcomes, refreshes = tally(lookups)
        context = {"route": route, "key": keys[0][:12], "items": len(rows), "ms": elapsed_ms}
        if self.metrics is not None:
            counts = dict(refreshes)
            if self.inline and queue.cut_calls > cut:  # one request at a time: all its own
                counts["L2QueueCut"] = queue.cut_calls - cut
            self.metrics.record(outcomes, context, counts)
        # With metrics on, the EMF line already carries these fields: the log line is DEBUG.
        level = logging.DEBUG if self.metrics is not None else logging.INFO
        if log.isEnabledFor(level):
            cache = lookups[0].outcome.value if len(lookups) == 1 else dict(outcomes)
            log.log(level, route, extra={"cache": cache, **context})
        return lookups, rows

    def stats(self) -> dict[str, Any]:
        memory = self.cache.memory
        return {
            "model": self.model.name,
            "model_version": self.artifact.version,
            "model_loaded": self.artifact.loaded,
            "l1_items": len(memory) if memory is not None else None,
            "l1_max_items": memory.maxsize if memory is not None else None,
            "l2_circuit": self.cache.breaker.state if self.cache.store is not None else None,
            **self.cache.stats.snapshot(),
        }


# L2 worker threads per process. A server (uvicorn) runs up to 40 requests' blocking
# work at once (Starlette's thread pool: anyio's default limit), each a read and a write
# or a batch's chunks: with fewer workers they queue behind each other's table calls.
# Under Lambda one request runs at a time and the workers only bound each call's wait.
L2_WORKERS = {"server": 64, "inline": 16}


def build_store(settings: Settings, workers: int = L2_WORKERS["inline"]) -> DynamoDBStore:
    """The L2 table the settings name, with their timeouts and region. Refuses to start,
    in one line, without a region or without credentials (checked locally: environment,
    profile files, the container's role), instead of missing on every request."""
    from botocore.exceptions import NoRegionError

    try:
        client = make_client(
            settings.l2_timeout_seconds,
            settings.l2_max_attempts,
            settings.dynamodb_endpoint,
            region=settings.aws_region,
            require_credentials=True,
            connections=workers,
        )
    except NoRegionError as exc:
        raise SettingsError(
            "CACHE_MODE=tiered needs AWS_REGION (or AWS_DEFAULT_REGION) or "
            "AWS_ENDPOINT_URL_DYNAMODB; for a local table run `make serve`, "
            "or set CACHE_MODE=memory"
        ) from exc
    except StoreError as exc:
        if exc.kind is not ErrorKind.NO_CREDENTIALS:
            raise SettingsError(f"CACHE_MODE=tiered: {exc.detail}") from exc
        raise SettingsError(
            "CACHE_MODE=tiered found no AWS credentials: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY or AWS_PROFILE (in Lambda, the function's role provides "
            "them); for a local table run `make serve`, or set CACHE_MODE=memory"
        ) from exc
    return DynamoDBStore(settings.cache_table, client, workers=workers)


def build_cache(
    settings: Settings, model: Model, store: RecordStore | None = None, *, inline: bool = True
) -> TieredCache:
    """The cache `CACHE_MODE` asks for: none, L1 only, or L1 then DynamoDB (`store`, or
    the table the settings name)."""
    memory = None
    if settings.cache_mode in ("memory", "tiered"):
        memory = MemoryStore(settings.l1_max_items, settings.l1_ttl_seconds)
    if settings.cache_mode == "tiered" and store is None:
        store = build_store(settings, L2_WORKERS["inline" if inline else "server"])
    breaker = CircuitBreaker(settings.l2_breaker_failures, settings.l2_breaker_cooldown_seconds)
    return TieredCache(
        model.identity,
        schema=model.value_schema,
        validate=model.is_valid,
        memory=memory,
        store=store,
        ttl_seconds=settings.cache_ttl_seconds,
        reserve_seconds=settings.l0_ttl_seconds,
        l2_budget_seconds=settings.l2_budget_seconds,
        slow_call_seconds=settings.l2_slow_call_seconds,
        cpu_capacity=settings.cpu_capacity,
        breaker=breaker,
        refresh=EarlyRefresh(settings.early_refresh_beta),
    )


def _check_keyable(model: Model) -> None:
    """The model's example, validated, has a canonical key: a request type no key can
    carry (bytes, an arbitrary object) is refused here once, not with a 500 per request."""
    try:
        make_key(model.name, "", model.Request.model_validate(model.example()).model_dump(),
                 schema=model.value_schema)  # fmt: skip
    except TypeError as exc:
        raise ModelError(f"MODEL {model.name}: its Request cannot be keyed: {exc}") from None
    except ValueError:  # an example its own schema refuses: said where the example is used
        pass


def build_prediction_service(
    settings: Settings, *, inline: bool = False, store: RecordStore | None = None
) -> PredictionService:
    """Import `MODEL`, verify its artifact (refusing a mismatch), build the cache,
    preload if asked."""
    try:
        model = load_model(settings.model, settings.model_path)
        _check_keyable(model)
    except ModelError as exc:
        raise SettingsError(str(exc)) from None
    metrics = EmfMetrics(settings.metrics_service) if settings.emit_metrics else None
    cache = build_cache(settings, model, store, inline=inline)
    service = PredictionService(model, cache, metrics, inline=inline)
    if settings.model_preload:
        model.artifact.pipeline()
    return service
