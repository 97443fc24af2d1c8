"""What the public port shows and how every response protects itself: in production the API
docs and /metrics are off unless a setting turns them on; every response, errors and streams
included, carries nosniff, a referrer policy and frame protection; a wrong method on an API
route is a 405 with `Allow`, also with the front end built."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.frontend import CONTENT_SECURITY_POLICY
from tests.fixtures.accounts import new_account, new_client_id
from tests.fixtures.models import scripted_model
from tests.fixtures.server import AppFactory, assert_error, make_settings, running_app
from tests.fixtures.streams import read_stream, stream_params
from tests.integration.test_frontend_serving import build_fake_dist

PRODUCTION: dict[str, Any] = {"chatstream_env": "production", "secret_key": "s" * 48}
DOCS_PATHS = ["/docs", "/redoc", "/openapi.json"]
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def assert_protected(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    return build_fake_dist(tmp_path)


# Exposure -------------------------------------------------------------------------------------


@pytest.mark.parametrize("built_front_end", [True, False], ids=["front-end", "api-only"])
async def test_production_hides_the_api_docs_and_metrics_from_the_public_port(
    tmp_path: Path, sqlite_url: str, built_front_end: bool
) -> None:
    front_end = build_fake_dist(tmp_path) if built_front_end else tmp_path / "none"
    settings = make_settings(
        tmp_path, database_url=sqlite_url, frontend_dist_dir=front_end, **PRODUCTION
    )
    async with running_app(settings, scripted_model()) as h:
        for path in [*DOCS_PATHS, "/docs/oauth2-redirect", "/metrics"]:
            response = await h.client.get(path)
            assert_error(response, 404, "not_found")  # JSON, not the front end's index.html
            assert_protected(response)
        assert (await h.client.get("/healthz")).status_code == 200
        if built_front_end:
            assert "<div id=root>" in (await h.client.get("/login")).text


async def test_production_shows_them_when_the_settings_say_so(
    tmp_path: Path, sqlite_url: str, dist: Path
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=sqlite_url,
        frontend_dist_dir=dist,
        expose_api_docs=True,
        expose_metrics=True,
        **PRODUCTION,
    )
    async with running_app(settings, scripted_model()) as h:
        schema = await h.client.get("/openapi.json")
        assert schema.status_code == 200 and schema.json()["info"]["title"] == "ChatStream"
        for path in ("/docs", "/redoc"):
            page = await h.client.get(path)
            assert page.status_code == 200 and "openapi.json" in page.text, path
        metrics = await h.client.get("/metrics")
        assert metrics.status_code == 200 and "chatstream_" in metrics.text


async def test_development_shows_docs_and_metrics_unless_turned_off(
    tmp_path: Path, sqlite_url: str, dist: Path
) -> None:
    settings = make_settings(tmp_path, database_url=sqlite_url, frontend_dist_dir=dist)
    async with running_app(settings, scripted_model()) as h:
        for path in [*DOCS_PATHS, "/metrics"]:
            assert (await h.client.get(path)).status_code == 200, path
    off = make_settings(
        tmp_path,
        database_url=sqlite_url,
        frontend_dist_dir=dist,
        expose_api_docs=False,
        expose_metrics=False,
    )
    async with running_app(off, scripted_model()) as h:
        for path in [*DOCS_PATHS, "/metrics"]:
            assert_error(await h.client.get(path), 404, "not_found")


async def test_metrics_port_keeps_metrics_off_the_api_port_even_when_exposed(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = make_settings(
        tmp_path, database_url=sqlite_url, metrics_port=9, expose_metrics=True, **PRODUCTION
    )
    async with running_app(settings, scripted_model()) as h:
        hidden = await h.client.get("/metrics")
        assert "METRICS_PORT" in assert_error(hidden, 404, "not_found")["message"]


# Methods --------------------------------------------------------------------------------------


@pytest.mark.parametrize("built_front_end", [True, False], ids=["front-end", "api-only"])
async def test_a_wrong_method_on_an_api_route_is_405_with_allow(
    tmp_path: Path, sqlite_url: str, built_front_end: bool
) -> None:
    front_end = build_fake_dist(tmp_path) if built_front_end else tmp_path / "none"
    settings = make_settings(tmp_path, database_url=sqlite_url, frontend_dist_dir=front_end)
    async with running_app(settings, scripted_model()) as h:
        wrong = [
            ("DELETE", "/api/v1/users/me", "GET"),
            ("GET", "/api/v1/chat/message", "POST"),
            ("PUT", "/api/v1/auth/register", "POST"),
            ("GET", f"/api/v1/chat/messages/{new_client_id()}/cancel", "POST"),
            ("POST", "/healthz", "GET"),
        ]
        for method, path, allowed in wrong:
            response = await h.client.request(method, path)
            assert_error(response, 405, "method_not_allowed")
            assert response.headers["allow"] == allowed, (method, path)
            assert_protected(response)
        unknown = await h.client.post("/api/v1/no-such-route")
        assert_error(unknown, 404, "not_found")
        if built_front_end:
            client_route = await h.client.post("/login")
            assert client_route.status_code == 405
            assert client_route.headers["allow"] == "GET, HEAD"


# Headers --------------------------------------------------------------------------------------


async def test_every_kind_of_response_carries_the_security_headers(
    tmp_path: Path, sqlite_url: str, dist: Path
) -> None:
    settings = make_settings(tmp_path, database_url=sqlite_url, frontend_dist_dir=dist)
    async with running_app(settings, scripted_model()) as h:
        account = await new_account(h.client)
        responses = [
            await h.client.get("/api/v1/users/me", headers=account.auth),  # JSON
            await h.client.get("/api/v1/users/me"),  # 401
            await h.client.get("/api/v1/chat/conversations/nope/messages", headers=account.auth),
            await h.client.post("/api/v1/chat/message", json={}, headers=account.auth),  # 422
            await h.client.get("/api/v1/nothing-here"),  # 404
            await h.client.get("/healthz"),
            await h.client.get("/readyz"),
            await h.client.get("/metrics"),
            await h.client.get("/openapi.json"),
            await h.client.get("/docs"),
            await h.client.get("/assets/app-1a2b.js"),
        ]
        index = await h.client.get("/chat")
        responses.append(index)
        assert index.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
        stream = await read_stream(h.client, stream_params(account.access_token))
        assert stream.headers is not None and stream.terminal["type"] == "complete"
        for name, value in SECURITY_HEADERS.items():
            assert stream.headers.get(name) == value, name
        for response in responses:
            assert_protected(response)


async def test_an_unexpected_error_carries_them_too(sqlite_server_factory: AppFactory) -> None:
    from fastapi.routing import APIRoute

    async def explode() -> None:
        raise RuntimeError("boom")

    async with sqlite_server_factory() as server:
        server.app.router.routes.insert(0, APIRoute("/api/v1/explode", explode))
        async with server.client() as client:
            response = await client.get("/api/v1/explode")
            assert_error(response, 500, "internal")
            assert_protected(response)
        # Refused by the HTTP protocol itself, before the app: still JSON, still protected.
        status, headers = await _raw_get(server.base_url, "/healthz?pad=" + "a" * 70_000)
        assert status == 414
        for name, value in SECURITY_HEADERS.items():
            assert headers.get(name) == value, (name, headers)


async def _raw_get(base_url: str, target: str) -> tuple[int, dict[str, str]]:
    """A GET written on the socket (httpx refuses a URL this long): its status and headers."""
    url = httpx.URL(base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(-1), 30)
    writer.close()
    head = raw.decode("latin-1").partition("\r\n\r\n")[0].split("\r\n")
    fields = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split(" ", 2)[1]), {k.lower(): v for k, v in fields.items()}
