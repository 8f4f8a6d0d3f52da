"""HTTP routes. All `async`: L1 hits are answered on the event loop, and the
prediction service runs blocking work (DynamoDB, the model) inline under Mangum
or in a worker thread under a server."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from service.deps import get_predictions, get_settings
from service.predictions import PredictionService
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
_422 = {422: {"description": "invalid payload; `message` names the field"}}
# Answered by `service.admission` before the route runs.
_AUTH = {
    401: {"description": "`API_KEYS` is set and `x-api-key` is missing or wrong"},
    413: {"description": "body larger than `MAX_BODY_BYTES`"},
    415: {"description": "content-type is not JSON"},
}


@router.post(
    "/predict",
    response_model=Prediction,
    responses=_AUTH | _422,
    openapi_extra={"requestBody": json_body(FlightFeatures)},
)
async def predict(request: Request) -> Response:
    """Probability that the flight departs more than 15 minutes late.

    Headers: `X-Cache` (as `cache`), `Cache-Status` (RFC 9211) and `Age` (seconds
    since the value was computed). The body is parsed here rather than declared as a
    parameter: pydantic reads the JSON bytes directly and no dependency is solved,
    which keeps this, the hottest path, close to `GET /health`.
    """
    features = parse_body(FlightFeatures, await request.body())
    predictions: PredictionService = request.app.state.predictions
    (lookup,) = await predictions.lookup([features], "/predict")
    return prediction_response(lookup, predictions.version, predictions.caching)


@router.post("/predict/batch", response_model=BatchResponse, responses=_AUTH | _422)
async def predict_batch(request: BatchRequest, predictions: Predictions) -> Response:
    """Up to 1000 flights in one call: one L2 round trip and one model run for the misses."""
    lookups = await predictions.lookup(request.items, "/predict/batch")
    return batch_response(lookups, predictions.version)


@router.get("/health", response_model=Health)
async def health(
    predictions: Predictions, settings: Annotated[Settings, Depends(get_settings)]
) -> Health:
    return Health(
        status="ok",
        model_version=predictions.artifact.version,
        model_loaded=predictions.artifact.loaded,
        cache_mode=settings.cache_mode,
    )


@router.get("/stats")
async def stats(
    predictions: Predictions, settings: Annotated[Settings, Depends(get_settings)]
) -> dict[str, Any]:
    """Per-tier hits, misses, errors and latency of this process since it started."""
    return {"cache_mode": settings.cache_mode, **predictions.stats()}
