"""HTTP routes. All `async`: L1 hits are answered on the event loop, and the
prediction service runs blocking work (DynamoDB, the model) inline under Mangum
or in a worker thread under a server."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from service.deps import get_predictions, get_settings
from service.predictions import PredictionService
from service.replies import ERROR_RESPONSES
from service.responses import batch_response, prediction_response
from service.schemas import (
    BatchRequest,
    BatchResponse,
    FlightFeatures,
    Health,
    Prediction,
    json_body,
    parse_body,
)
from service.settings import Settings

router = APIRouter()
Predictions = Annotated[PredictionService, Depends(get_predictions)]
_KEYED = {status: ERROR_RESPONSES[status] for status in (400, 401, 500)}


@router.post(
    "/predict",
    response_model=Prediction,
    responses=ERROR_RESPONSES,
    openapi_extra={"requestBody": json_body(FlightFeatures)},
)
async def predict(request: Request) -> Response:
    """Probability that the flight departs more than 15 minutes late.

    The same flight always gets the same answer while the model version stays;
    `cache` and the `X-Cache` header say which tier answered. `Cache-Status`
    (RFC 9211) says the same for HTTP caches, and `Age` is the answer's age in seconds.
    """
    # The body is parsed here, not declared as a parameter: pydantic reads the bytes
    # directly and no dependency is solved, keeping the hottest path near `GET /health`.
    features = parse_body(FlightFeatures, await request.body())
    predictions: PredictionService = request.app.state.predictions
    (lookup,) = await predictions.lookup([features], "/predict")
    return prediction_response(lookup, predictions.version, predictions.caching)


@router.post("/predict/batch", response_model=BatchResponse, responses=ERROR_RESPONSES)
async def predict_batch(request: BatchRequest, predictions: Predictions) -> Response:
    """Up to 1000 flights in one call, answered in order; `cache` counts the tiers.

    Cheaper than as many single calls: one table read for all, one model run for the rest.
    """
    lookups = await predictions.lookup(request.items, "/predict/batch")
    return batch_response(lookups, predictions.version)


@router.get("/health", response_model=Health)
async def health(
    predictions: Predictions, settings: Annotated[Settings, Depends(get_settings)]
) -> Health:
    """Liveness, the model version served, and whether the model is in memory yet.
    Needs no key."""
    return Health(
        status="ok",
        model_version=predictions.artifact.version,
        model_loaded=predictions.artifact.loaded,
        cache_mode=settings.cache_mode,
    )


@router.get("/stats", responses=_KEYED)
async def stats(
    predictions: Predictions, settings: Annotated[Settings, Depends(get_settings)]
) -> dict[str, Any]:
    """Hits, misses, refreshes, errors and latency per tier of this process (one
    container or server worker) since it started."""
    return {"cache_mode": settings.cache_mode, **predictions.stats()}
