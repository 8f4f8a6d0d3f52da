"""HTTP routes, built for the model the app serves (its request and value schemas).

All `async`: L1 hits are answered on the event loop, and the prediction service runs
blocking work (DynamoDB, the model) inline under Mangum or in a worker thread under
a server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NamedTuple

from cachetools import LRUCache
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from service.deps import get_settings
from service.openapi import Operation, Route
from service.predictions import Plan, PredictionService
from service.replies import ERROR_RESPONSES
from service.responses import Answers
from service.schemas import (
    Bodies,
    Health,
    get_refusal,
    json_body,
    keyable,
    parse_body,
    parse_query,
    query_pairs,
    query_parameters,
)
from service.settings import Settings

# what admission (service/admission.py) can answer on a route without a body, with a key or not
_KEYED = {status: ERROR_RESPONSES[status] for status in (400, 401, 414, 500)}
_OPEN = {status: ERROR_RESPONSES[status] for status in (400, 414, 500)}
KNOWN_BODIES = 1024  # POST /predict bodies whose plan is kept, by raw bytes,
KNOWN_BODY_MAX_BYTES = 4096  # each at most this long (~4 MiB of bodies at most)


class Routes(NamedTuple):
    router: APIRouter
    # POST /predict's answer from its raw body, for the layer that answers it before
    # the router (service/fastpath.py)
    predict_body: Callable[[bytes], Awaitable[Response]]
    # why GET /predict is left out for this model (said in the start-up line), or None
    no_get: str | None
    # what each route reads and answers, for the published document (service/openapi.py)
    operations: dict[Route, Operation]


def _body_answers(
    predictions: PredictionService, request: type[BaseModel], answers: Answers
) -> Callable[[bytes], Awaitable[Response]]:
    """POST /predict's answer for its raw body (a 422, `RequestValidationError`, for an
    invalid one). Plans are kept by raw body: a payload sent again (what a cache is
    for) is neither parsed nor keyed again. Only valid bodies are kept (a parse is
    deterministic: the same bytes make the same plan), and only small ones."""
    plans: LRUCache[bytes, Plan] = LRUCache(KNOWN_BODIES)

    async def answer_body(body: bytes) -> Response:
        plan = plans.get(body)
        if plan is None:
            plan = predictions.plan_rows(keyable([parse_body(request, body)], ("body",)))
            if len(body) <= KNOWN_BODY_MAX_BYTES:
                plans[body] = plan
        (lookup,), (row,) = await predictions.lookup_plan(plan, "/predict")
        return answers.one(lookup, row)

    return answer_body


def build_router(predictions: PredictionService) -> Routes:
    """`/predict`, `/predict/batch`, `/health` and `/stats` for `predictions.model`."""
    model = type(predictions.model)
    bodies = Bodies.of(model)
    answers = Answers(model, predictions.version, predictions.caching)
    router, operations = APIRouter(), {}
    predict_body, no_get = _prediction_routes(router, predictions, bodies, answers, operations)
    _batch_route(router, predictions, bodies, answers, operations)
    _service_routes(router, predictions, operations)
    return Routes(router, predict_body, no_get, operations)


def _prediction_routes(
    router: APIRouter,
    predictions: PredictionService,
    bodies: Bodies,
    answers: Answers,
    operations: dict[Route, Operation],
) -> tuple[Callable[[bytes], Awaitable[Response]], str | None]:
    """POST `/predict`, and GET `/predict` when the request has a query form; returns
    the POST body's answer and why GET is left out (or None)."""
    model = type(predictions.model)
    Request_ = bodies.Request
    one = {"response_model": None, "description": (model.__doc__ or "").strip().split("\n\n")[0]}
    answer_body = _body_answers(predictions, Request_, answers)
    operations["/predict", "post"] = Operation(
        lambda: {"requestBody": json_body(Request_)}, bodies.Prediction, ERROR_RESPONSES
    )

    @router.post("/predict", **one)
    async def predict(request: Request) -> Response:
        """The model's answer for one request.

        The same request always gets the same answer while the model version stays;
        `cache` and the `X-Cache` header say which tier answered. `Cache-Status`
        (RFC 9211) says the same for HTTP caches, and `Age` is the answer's age in seconds.
        """
        # The body is parsed from its bytes, not declared as a parameter (pydantic reads
        # them directly). The app answers a valid body before the router runs, under a
        # server and Mangum alike (service/fastpath.py); this route documents it and
        # answers the rest.
        return await answer_body(await request.body())

    async def predict_get(request: Request) -> Response:
        """The same answer as `POST /predict`, the request's fields as query parameters
        (a list as one parameter, its items separated by commas).

        Same validation, key and entry as the POST (a GET after a POST is a hit), and an
        HTTP cache in front (API Gateway's, keyed on these parameters) can keep it.
        """
        item = parse_query(Request_, query_pairs(request.scope["query_string"]))
        (lookup,), (row,) = await predictions.lookup(keyable([item], ("query",)), "/predict")
        return answers.one(lookup, row)

    no_get = get_refusal(Request_)
    if no_get is None:
        router.get("/predict", **one)(predict_get)
        operations["/predict", "get"] = Operation(
            lambda: {"parameters": query_parameters(Request_)}, bodies.Prediction, ERROR_RESPONSES
        )
    return answer_body, no_get


def _batch_route(
    router: APIRouter,
    predictions: PredictionService,
    bodies: Bodies,
    answers: Answers,
    operations: dict[Route, Operation],
) -> None:
    operations["/predict/batch", "post"] = Operation(
        lambda: {"requestBody": json_body(bodies.BatchRequest)},
        bodies.BatchResponse,
        ERROR_RESPONSES,
    )

    @router.post("/predict/batch", response_model=None)
    async def predict_batch(request: Request) -> Response:
        """Up to 1000 requests in one call, answered in order; `cache` counts the tiers.

        Cheaper than as many single calls: one table read for all, one model run for the rest.
        """
        batch = parse_body(bodies.BatchRequest, await request.body())
        items = keyable(batch.items, ("body", "items"), indexed=True)
        lookups, rows = await predictions.lookup(items, "/predict/batch")
        return answers.batch(lookups, rows)


def _service_routes(
    router: APIRouter, predictions: PredictionService, operations: dict[Route, Operation]
) -> None:
    """`/health` (no key) and `/stats`: what an operator and a load balancer ask."""
    operations["/health", "get"] = Operation(answer=Health, errors=_OPEN)
    counters = {"type": "object", "additionalProperties": True}
    operations["/stats", "get"] = Operation(
        lambda: {"responses": {"200": {"description": "Successful Response",
                                       "content": {"application/json": {"schema": counters}}}}},
        errors=_KEYED,
    )  # fmt: skip

    @router.get("/health", response_model=None)
    async def health(
        request: Request, settings: Annotated[Settings, Depends(get_settings)]
    ) -> Health:
        """Liveness, the model and version served, whether it is in memory yet, and the
        state of the app's API keys (`revoked`, `unreadable`: every key is refused).
        Needs no key."""
        keys = request.app.state.keys
        return Health(
            status="ok",
            model=predictions.model.name,
            model_version=predictions.artifact.version,
            model_loaded=predictions.artifact.loaded,
            cache_mode=settings.cache_mode,
            api_keys=keys.state if keys is not None else "off",
        )

    @router.get("/stats", response_model=None)
    async def stats(settings: Annotated[Settings, Depends(get_settings)]) -> dict[str, Any]:
        """Hits, misses, refreshes, errors and latency per tier of this process (one
        container or server worker) since it started."""
        return {"cache_mode": settings.cache_mode, **predictions.stats()}
