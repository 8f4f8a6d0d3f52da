"""The FastAPI app factory.

Everything is built eagerly in `create_app` (no lifespan hooks): the Lambda handler
runs Mangum with `lifespan="off"`, and a missing or tampered model artifact must
stop the process at start, not fail requests later.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from cache import RecordStore, worst_call_seconds
from model.artifact import ArtifactError
from service.admission import AdmissionMiddleware
from service.docs_pages import add_docs_pages
from service.errors import ErrorMiddleware
from service.fastpath import FastPath
from service.head import HeadAsGet
from service.keys import key_source
from service.logs import configure_logging
from service.openapi import published
from service.predictions import PredictionService, build_prediction_service
from service.replies import error_body, problems_body, short
from service.routes import build_router
from service.settings import Settings, SettingsError

log = logging.getLogger("predcache.app")


def _field(error: dict) -> str:
    if error["type"] == "json_invalid":  # loc holds a byte offset, not a field
        return "body"
    return ".".join(str(p) for p in error["loc"] if p not in ("body", "query")) or "body"


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming the bad fields (a bounded number), without echoing the input back."""
    errors = [{"field": _field(e), "message": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse(status_code=422, content=problems_body(errors))


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """404, 405 and the like in the one error shape, `message` saying what happened; a
    405's `Allow` names every method the path takes (Starlette's names only the first
    route's: `GET /predict` and `POST /predict` are two routes)."""
    message = f"{exc.detail}: {short(request.method)} {short(request.url.path)}"
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return JSONResponse(error_body(message), exc.status_code, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """The methods of every route whose path matches the request's, sorted (`HEAD`
    wherever `GET`: service/head.py)."""
    methods: set[str] = set()
    for route in request.app.state.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE:
            methods |= route.methods
    return sorted(methods | ({"HEAD"} if "GET" in methods else set()))


def create_app(
    settings: Settings | None = None, *, inline: bool = False, store: RecordStore | None = None
) -> FastAPI:
    """Build the app; raises `SettingsError` for a bad setting and `ArtifactError` if
    the model artifact cannot be trusted. `inline`: one request at a time (Mangum).
    `store`: the L2 store to use in tiered mode instead of the table the settings name."""
    try:
        settings = settings or Settings.from_env()
        configure_logging(settings.log_level)
        predictions = build_prediction_service(settings, inline=inline, store=store)
        keys = key_source(settings)
    except (ArtifactError, SettingsError) as exc:
        configure_logging(settings.log_level if settings else "INFO")
        log.error("refusing to start: %s", exc)
        raise
    app = FastAPI(
        title=f"predcache: {predictions.model.name}",
        summary=f"{predictions.model.name} behind a two-tier prediction cache",
        version=predictions.artifact.version,
        docs_url=None,  # service/docs_pages.py: the same pages, without a CDN
        redoc_url=None,
    )
    add_docs_pages(app)
    app.state.settings = settings
    app.state.predictions = predictions
    app.state.keys = keys
    routes = build_router(predictions)
    app.include_router(routes.router)
    app.openapi = published(app, routes.operations)  # type: ignore[method-assign]
    # every route with its methods, for a 405's Allow (an included router is one entry)
    app.state.routes = [r for r in (*app.router.routes, *routes.router.routes)
                        if getattr(r, "methods", None)]  # fmt: skip
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # innermost first: the fast path runs after admission, on the body it has read
    app.add_middleware(FastPath, method="POST", path="/predict", answer=routes.predict_body)
    app.add_middleware(
        AdmissionMiddleware,
        max_bytes=settings.max_body_bytes,
        max_query_bytes=settings.max_query_bytes,
        keys=keys,
    )
    app.add_middleware(ErrorMiddleware)
    app.add_middleware(HeadAsGet)
    _log_start(settings, predictions, routes.no_get)
    return app


def _log_start(settings: Settings, predictions: PredictionService, no_get: str | None) -> None:
    cells = predictions.cells
    log.info(
        "started",
        extra={
            "get_predict": f"left out: {no_get}" if no_get else "on",
            # interval fields and their threshold counts (a field has one cell more)
            "keys": {"interval": cells.counts()} if cells is not None else "exact",
            "model": predictions.model.name,
            "model_version": predictions.artifact.version,
            "cache_mode": settings.cache_mode,
            "cache_table": settings.cache_table,
            "region": predictions.region,
            # what one request can wait on a hung table: the read, then no write
            "l2_worst_wait_s": worst_call_seconds(
                settings.l2_timeout_seconds, settings.l2_max_attempts
            ),
        },
    )


def create_app_or_exit(*, inline: bool = False) -> FastAPI:
    """`create_app` from the environment for a server or Lambda: a refusal is the one
    line `create_app` logged, then exit status 1 (no traceback after it)."""
    try:
        return create_app(inline=inline)
    except (ArtifactError, SettingsError):
        raise SystemExit(1) from None
