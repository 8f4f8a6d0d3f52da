"""HTTP routes. All `async`: L1 hits are answered on the event loop, and the
prediction service sends blocking work (DynamoDB, the model) to a worker thread."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from service.deps import get_predictions, get_settings, require_api_key, require_json
from service.predictions import PredictionService
from service.schemas import BatchRequest, BatchResponse, FlightFeatures, Health, Prediction
from service.settings import Settings

router = APIRouter()
Predictions = Annotated[PredictionService, Depends(get_predictions)]
guarded = [Depends(require_api_key), Depends(require_json)]
_422 = {422: {"description": "invalid payload; `message` names the field"}}


@router.post("/predict", response_model=Prediction, dependencies=guarded, responses=_422)
async def predict(
    features: FlightFeatures, response: Response, predictions: Predictions
) -> Prediction:
    """Probability that the flight departs more than 15 minutes late."""
    result = await predictions.predict(features)
    response.headers["X-Cache"] = result.cache
    return result


@router.post("/predict/batch", response_model=BatchResponse, dependencies=guarded, responses=_422)
async def predict_batch(request: BatchRequest, predictions: Predictions) -> BatchResponse:
    """Up to 1000 flights in one call: one L2 round trip and one model run for the misses."""
    return await predictions.predict_batch(request.items)


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
