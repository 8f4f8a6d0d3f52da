"""`/docs` and `/redoc` without a CDN (service/docs_pages.py): every asset a page names
is served by the app itself, under a root path too, and behind the API key like the
pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.factory import create_app
from tests.conftest import make_settings


def assets_named(page: str) -> list[str]:
    return re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_asset_a_page_names_is_served_here(artifact_path: Path, page: str) -> None:
    client = TestClient(create_app(make_settings(artifact_path)))
    html = client.get(page)
    assert html.status_code == 200 and "cdn" not in html.text.lower()
    named = [url for url in assets_named(html.text) if url != "/openapi.json"]
    assert named and all(url.startswith("/docs/assets/") for url in named), named
    for url in named:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 1000, url
        assert asset.headers["content-type"].split(";")[0] in (
            "text/javascript", "text/css", "image/png"
        )  # fmt: skip
    assert client.get("/docs/assets/nothing.js").status_code == 404


def test_pages_under_a_root_path_name_their_assets_there(artifact_path: Path) -> None:
    client = TestClient(create_app(make_settings(artifact_path)), root_path="/api")
    named = assets_named(client.get("/docs").text)
    assert "/api/openapi.json" in named and "/api/docs/assets/swagger-ui-bundle.js" in named


def test_the_pages_and_assets_need_the_key(artifact_path: Path) -> None:
    client = TestClient(create_app(make_settings(artifact_path, api_keys=frozenset({"k"}))))
    for url in ("/docs", "/redoc", "/docs/assets/swagger-ui-bundle.js"):
        assert client.get(url).status_code == 401
        assert client.get(url, headers={"x-api-key": "k"}).status_code == 200
