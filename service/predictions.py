"""Validated flights → cache keys → cached or computed predictions."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool

from cache import (
    CircuitBreaker,
    DynamoDBStore,
    MemoryStore,
    Outcome,
    TieredCache,
    make_client,
    make_key,
)
from model.artifact import ModelArtifact
from model.predictor import Predictor
from service.metrics import EmfMetrics
from service.schemas import BatchResponse, BatchTotals, FlightFeatures, Prediction
from service.settings import Settings

log = logging.getLogger("predcache.predict")


class PredictionService:
    """Answers prediction requests through the tiered cache, the model only on misses."""

    def __init__(
        self, artifact: ModelArtifact, cache: TieredCache, metrics: EmfMetrics | None = None
    ) -> None:
        self.artifact = artifact
        self.cache = cache
        self.metrics = metrics
        self.predictor = Predictor(artifact)

    def key(self, features: FlightFeatures) -> str:
        return self._key(features.model_dump())

    def _key(self, row: dict[str, Any]) -> str:
        return make_key(self.artifact.name, self.artifact.version, row)

    def _compute(self, rows_by_key: dict[str, dict[str, Any]]) -> Any:
        def compute(keys: list[str]) -> list[dict[str, Any]]:
            rows = [rows_by_key[key] for key in keys]
            probabilities = self.predictor.predict_many(rows)
            return [
                {"delay_probability": p, "unknown": self.predictor.unknown_fields(row)}
                for p, row in zip(probabilities, rows, strict=True)
            ]

        return compute

    async def _predict(
        self, items: Sequence[FlightFeatures], route: str
    ) -> tuple[list[Prediction], Counter[str]]:
        """Predictions in order and their outcome counts; identical items are done once.

        L1 hits are answered on the event loop; only lookups that need DynamoDB or
        the model go to a worker thread (the hop costs more than an L1 hit).
        """
        started = time.perf_counter()
        rows = [item.model_dump() for item in items]
        keys = [self._key(row) for row in rows]
        pending = self.cache.lookup_memory(keys)
        compute = self._compute(dict(zip(keys, rows, strict=True)))
        if pending.complete:
            lookups = self.cache.resolve(pending, compute)
        else:
            lookups = await run_in_threadpool(self.cache.resolve, pending, compute)
        elapsed_ms = round(1000 * (time.perf_counter() - started), 3)
        predictions = [
            Prediction(
                delay_probability=lookup.value["delay_probability"],
                model_version=self.artifact.version,
                cache=lookup.outcome.value,
                unknown=lookup.value["unknown"],
            )
            for lookup in lookups
        ]
        outcomes = Counter(p.cache for p in predictions)
        if self.metrics is not None:
            self.metrics.record(route, outcomes, elapsed_ms)
        cache = predictions[0].cache if len(predictions) == 1 else dict(outcomes)
        log.info(
            route,
            extra={"cache": cache, "key": keys[0][:12], "items": len(items), "ms": elapsed_ms},
        )
        return predictions, outcomes

    async def predict(self, features: FlightFeatures) -> Prediction:
        predictions, _ = await self._predict([features], "/predict")
        return predictions[0]

    async def predict_batch(self, items: Sequence[FlightFeatures]) -> BatchResponse:
        predictions, counts = await self._predict(items, "/predict/batch")
        totals = BatchTotals(
            hit_l1=counts[Outcome.HIT_L1], hit_l2=counts[Outcome.HIT_L2], miss=counts[Outcome.MISS]
        )
        return BatchResponse(predictions=predictions, cache=totals)

    def stats(self) -> dict[str, Any]:
        memory = self.cache.memory
        return {
            "model_version": self.artifact.version,
            "model_loaded": self.artifact.loaded,
            "l1_items": len(memory) if memory is not None else None,
            "l1_max_items": memory.maxsize if memory is not None else None,
            "l2_circuit": self.cache.breaker.state if self.cache.store is not None else None,
            **self.cache.stats.snapshot(),
        }


def build_cache(settings: Settings, version: str) -> TieredCache:
    """The cache `CACHE_MODE` asks for: none, L1 only, or L1 then DynamoDB."""
    memory = None
    store = None
    if settings.cache_mode in ("memory", "tiered"):
        memory = MemoryStore(settings.l1_max_items, settings.l1_ttl_seconds)
    if settings.cache_mode == "tiered":
        client = make_client(
            settings.l2_timeout_seconds, settings.l2_max_attempts, settings.dynamodb_endpoint
        )
        store = DynamoDBStore(settings.cache_table, client)
    breaker = CircuitBreaker(settings.l2_breaker_failures, settings.l2_breaker_cooldown_seconds)
    return TieredCache(
        version,
        memory=memory,
        store=store,
        ttl_seconds=settings.cache_ttl_seconds,
        breaker=breaker,
    )


def build_prediction_service(settings: Settings) -> PredictionService:
    """Verify the artifact (refusing a mismatch), build the cache, preload if asked."""
    artifact = ModelArtifact(settings.model_path)
    metrics = EmfMetrics(settings.metrics_service) if settings.emit_metrics else None
    service = PredictionService(artifact, build_cache(settings, artifact.version), metrics)
    if settings.model_preload:
        artifact.pipeline()
    return service
