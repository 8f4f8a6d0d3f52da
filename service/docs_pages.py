"""`/docs` (Swagger UI) and `/redoc` from assets the app serves itself, not from a CDN.

FastAPI's own pages load Swagger UI and ReDoc from cdn.jsdelivr.net: a blank page
wherever the browser reaches only the app (a VPC endpoint, a corporate network, no
network). The assets here are the copies PyPI's `fastapi-offline` ships (MIT; Swagger
UI is Apache-2.0, ReDoc MIT), pinned with the rest of the requirements; they are read
when a page asks for them, never at start. Like every route but `/health`, they need
the API key where one is set (service/admission.py).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

ASSETS = "/docs/assets"
MEDIA = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}


@cache
def _asset(name: str) -> bytes:
    return (files("fastapi_offline") / "static" / name).read_bytes()


def add_docs_pages(app: FastAPI) -> None:
    """The two pages and their assets on `app` (built with `docs_url=None, redoc_url=None`)."""

    def under_root(request: Request) -> tuple[str, str]:
        """The document's URL and the assets' folder, under the request's root path."""
        root = request.scope.get("root_path", "")
        return f"{root}{app.openapi_url}", f"{root}{ASSETS}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        document, assets = under_root(request)
        return get_swagger_ui_html(
            openapi_url=document, title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css", swagger_favicon_url=f"{assets}/favicon.png",
        )  # fmt: skip

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        document, assets = under_root(request)
        return get_redoc_html(
            openapi_url=document, title=f"{app.title} - ReDoc",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png", with_google_fonts=False,
        )  # fmt: skip

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in MEDIA:
            raise HTTPException(404, "Not Found")
        headers = {"cache-control": "public, max-age=86400"}
        return Response(_asset(name), media_type=MEDIA[name], headers=headers)
