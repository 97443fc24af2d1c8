"""The built front end: served at /, client routes fall back to index.html, a strict CSP."""

from __future__ import annotations

from pathlib import Path

from app.frontend import CONTENT_SECURITY_POLICY
from tests.fixtures.models import scripted_model
from tests.fixtures.server import make_settings, running_app


def build_fake_dist(root: Path) -> Path:
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(
        '<!doctype html><html><head><script type="module" src="/assets/app-1a2b.js"></script>'
        "</head><body><div id=root></div></body></html>"
    )
    (dist / "assets" / "app-1a2b.js").write_text("console.log('app')")
    return dist


async def test_index_and_client_routes_get_index_html_with_a_csp_forbidding_inline_script(
    tmp_path: Path, sqlite_url: str
) -> None:
    dist = build_fake_dist(tmp_path)
    settings = make_settings(tmp_path, database_url=sqlite_url, frontend_dist_dir=dist)
    async with running_app(settings, scripted_model()) as h:
        for path in ("/", "/login", "/chat/8d1c3a9e-0000-4000-8000-000000000000"):
            response = await h.client.get(path)
            assert response.status_code == 200, path
            assert "<div id=root>" in response.text
            csp = response.headers["content-security-policy"]
            assert csp == CONTENT_SECURITY_POLICY
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert response.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_cached_for_a_year(tmp_path: Path, sqlite_url: str) -> None:
    dist = build_fake_dist(tmp_path)
    settings = make_settings(tmp_path, database_url=sqlite_url, frontend_dist_dir=dist)
    async with running_app(settings, scripted_model()) as h:
        response = await h.client.get("/assets/app-1a2b.js")
        assert response.status_code == 200
        assert "max-age=31536000" in response.headers["cache-control"]
        assert "immutable" in response.headers["cache-control"]


async def test_unknown_api_paths_stay_json_404s_not_the_spa(
    tmp_path: Path, sqlite_url: str
) -> None:
    dist = build_fake_dist(tmp_path)
    settings = make_settings(tmp_path, database_url=sqlite_url, frontend_dist_dir=dist)
    async with running_app(settings, scripted_model()) as h:
        response = await h.client.get("/api/v1/no-such-thing")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
