"""Shutdown with open streams: each ends with an event clients understand, and nothing is lost."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from app.db.session import Database
from tests.fixtures.accounts import new_user_token
from tests.fixtures.environment import CHATSTREAM_BIN, clean_env, free_port
from tests.fixtures.streams import start_stream, stream_params


async def wait_until_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the server exited during start-up"
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not become ready")


async def test_sigterm_ends_open_streams_with_a_retryable_error_and_saves_them(
    tmp_path: Path,
) -> None:
    env = clean_env(
        DATA_DIR=str(tmp_path / "data"),
        LLM_MODEL="scripted",
        SCRIPTED_CHUNK_DELAY_S="0.2",
        SCRIPTED_CHUNKS="200",
        ENABLE_STREAMING="true",
        LOG_LEVEL="warning",
    )
    subprocess.run([str(CHATSTREAM_BIN), "migrate"], env=env, check=True, capture_output=True)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(CHATSTREAM_BIN), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_until_ready(base_url, server)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            token = await new_user_token(client)
            stream, reading = start_stream(client, stream_params(token, "Go on"))
            await stream.wait_for_events(4)  # start and three chunks: now stop the server
            server.send_signal(signal.SIGTERM)
            await reading
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert server.wait(timeout=20) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
    terminal = stream.terminal
    assert terminal["type"] == "error"
    assert terminal["code"] == "internal" and terminal["retryable"] is True
    assert stream.count("error") == 1

    database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'chatstream.db'}")
    try:
        row = await database.run(
            lambda session: session.execute(
                text("SELECT status, content FROM messages WHERE reply_to_id IS NOT NULL")
            ).one()
        )
    finally:
        await database.dispose()
    assert row.status == "interrupted"
    assert row.content == stream.chunk_text
