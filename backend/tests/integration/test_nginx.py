"""A real nginx with deploy/nginx/chatstream.conf in front of a live server: chunks arrive at the
model's pace (not buffered), the SSE headers survive, nothing is compressed on the stream, a
message of MAX_MESSAGE_CHARS multi-byte characters fits, and tokens stay out of nginx's log."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.accounts import new_account, stream_token
from tests.fixtures.models import scripted_model
from tests.fixtures.nginx import nginx_in_front
from tests.fixtures.server import AppFactory, assert_error
from tests.fixtures.streams import read_stream, stream_params

pytestmark = pytest.mark.timeout(90)

CHUNKS = 15
PACE_S = 0.08
PACED_TEXT = " ".join(f"word{i}" for i in range(CHUNKS))


@asynccontextmanager
async def behind_nginx(
    sqlite_server_factory: AppFactory, tmp_path: Path, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    model = scripted_model(PACED_TEXT, delay_s=PACE_S)
    async with sqlite_server_factory(model=model, **settings) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        async with nginx_in_front(port, tmp_path / "nginx") as nginx:
            async with httpx.AsyncClient(base_url=nginx.base_url, timeout=30) as client:
                client.nginx = nginx  # type: ignore[attr-defined]
                yield client


async def test_chunks_pass_through_nginx_at_the_models_pace_with_sse_headers_intact(
    sqlite_server_factory: AppFactory, tmp_path: Path
) -> None:
    async with behind_nginx(sqlite_server_factory, tmp_path) as client:
        account = await new_account(client)
        token = await stream_token(client, account)
        stream = await read_stream(
            client, stream_params(token), headers={"Accept-Encoding": "gzip, deflate"}
        )
        # Control: the same nginx does compress ordinary JSON (so its absence above is the
        # stream route's doing, not nginx lacking gzip).
        listing = await client.get(
            "/api/v1/chat/conversations",
            headers={**account.auth, "Accept-Encoding": "gzip"},
        )
        access_log = client.nginx.access_log  # type: ignore[attr-defined]

    assert stream.status_code == 200, stream.body
    assert stream.types == ["start"] + ["chunk"] * CHUNKS + ["complete"]
    headers = stream.headers
    assert headers is not None
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache"
    assert headers.get("connection", "").lower() == "keep-alive"
    assert "content-encoding" not in headers
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])  # nginx's $request_id
    assert listing.status_code == 200 and listing.headers.get("content-encoding") == "gzip"

    arrivals = [e.received_at for e in stream.events if e.json["type"] == "chunk"]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    # Written 80 ms apart: spread over ~1.1 s and mostly spaced, not one burst at the end
    # (gzip, or a proxy that buffers, delivers them together: every gap near zero).
    assert arrivals[-1] - arrivals[0] >= (CHUNKS - 1) * PACE_S * 0.6, gaps
    assert sum(gap >= PACE_S / 3 for gap in gaps) >= (CHUNKS - 1) / 2, gaps

    logged = access_log.read_text()
    assert "/api/v1/chat/stream" in logged
    assert token not in logged and account.access_token not in logged


async def test_a_message_of_max_length_in_multibyte_characters_streams_through_nginx(
    sqlite_server_factory: AppFactory, tmp_path: Path
) -> None:
    async with behind_nginx(sqlite_server_factory, tmp_path, scripted_chunk_delay_s=0.0) as client:
        account = await new_account(client)
        token = await stream_token(client, account)
        config = await client.get("/api/v1/config", headers=account.auth)
        limit = config.json()["max_message_chars"]
        assert limit == 8000  # the default the nginx config is sized for
        message = ("é€" * limit)[:limit]  # 2 and 3 bytes in UTF-8; up to 9 once URL-encoded
        longest = stream_params(token, message)
        request = client.build_request("GET", "/api/v1/chat/stream", params=longest)
        assert len(request.url.raw_path) > 60_000  # a request line far past nginx's 8k default
        stream = await read_stream(client, longest)
        assert stream.status_code == 200, stream.body[:500]
        assert stream.types[0] == "start" and stream.types[-1] == "complete"
        page = await client.get(
            f"/api/v1/chat/conversations/{stream.payloads[0]['conversation_id']}/messages",
            headers=account.auth,
        )
        stored = page.json()["items"][0]
        assert stored["role"] == "user" and stored["content"] == message

        too_long = await client.get(
            "/api/v1/chat/stream", params=stream_params(token, message + "€")
        )
        assert_error(too_long, 413, "message_too_long")


async def test_nginx_keeps_metrics_internal_and_passes_probes(
    sqlite_server_factory: AppFactory, tmp_path: Path
) -> None:
    async with behind_nginx(sqlite_server_factory, tmp_path) as client:
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        index = await client.get("/some/client/route")
        assert index.status_code == 200 and "ChatStream" in index.text  # the SPA fallback
        assert "content-security-policy" in index.headers
        # The API's own pages reach the API (which serves them outside production), never the SPA.
        assert (await client.get("/openapi.json")).json()["info"]["title"]
        for page, marker in (("/docs", "swagger-ui"), ("/redoc", "<redoc")):
            html = (await client.get(page)).text
            assert marker in html and 'id="root"' not in html
