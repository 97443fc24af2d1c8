"""A client that stops reading, over a real socket, gets every frame once, in order.

Chunks normally go out from the generation's own task (app/streaming/response.py). When the
client stops reading, uvicorn pauses the transport and a send has to wait; the frames behind it
must then follow in order, and the generation must not wait for the client.
"""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.parse

import pytest

from app.streaming import response as sse_response
from tests.fixtures.accounts import new_account
from tests.fixtures.models import recording_model
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import STREAM_PATH, SSEParser, stream_params

pytestmark = pytest.mark.timeout(90)

CHUNKS = 3000
CHUNK_TEXT = "x" * 2000 + " "  # 6 MB in all: more than the kernel's socket buffers hold (4 MB)
STALL_S = 1.5


async def _stalled_sse_get(
    base_url: str, path: str, params: dict[str, str]
) -> tuple[SSEParser, float]:
    """GET over a socket with a small receive buffer; stop reading for STALL_S after the
    headers, then read the rest. Returns the parsed stream and when reading resumed."""
    url = urllib.parse.urlsplit(base_url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (url.hostname, url.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    query = urllib.parse.urlencode(params)
    request = f"GET {path}?{query} HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: text/event-stream\r\n"
    writer.write(request.encode() + b"\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    await asyncio.sleep(STALL_S)
    resumed_at = time.perf_counter()
    parser = SSEParser()
    body = b""
    try:
        while True:
            size_line = await reader.readline()
            size = int(size_line.strip(), 16)
            if size == 0:
                break
            chunk = await reader.readexactly(size + 2)
            body += chunk[:-2]
    finally:
        writer.close()
    parser.feed(body.decode())
    return parser, resumed_at


async def test_a_slow_reader_gets_every_chunk_once_in_order_and_the_model_never_waits(
    live_server_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    waited_sends = 0
    finish = sse_response._finish

    async def counted_finish(*args: object) -> None:
        nonlocal waited_sends
        waited_sends += 1
        await finish(*args)  # type: ignore[arg-type]

    # A spy, not a seam: only the private send path knows when a send had to wait for the client.
    monkeypatch.setattr(sse_response, "_finish", counted_finish)
    model = recording_model(CHUNK_TEXT * CHUNKS, delay_s=0.0)
    async with live_server_factory(model=model) as server:
        async with server.client() as client:
            account = await new_account(client)
        parsed, resumed_at = await _stalled_sse_get(
            server.base_url, STREAM_PATH, stream_params(account.access_token)
        )
    payloads = [event.json for event in parsed.events]
    assert payloads[0]["type"] == "start"
    assert payloads[-1]["type"] == "complete", payloads[-1]
    chunks = [p for p in payloads if p["type"] == "chunk"]
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert "".join(c["content"] for c in chunks) == model.full_text
    seqs = [int(event.id.rpartition(":")[2]) for event in parsed.events if event.id]
    assert seqs == list(range(len(parsed.events)))
    # The client held the server back: some sends had to wait for it...
    assert waited_sends >= 1
    # ...but not the model: it had finished before the client read again.
    assert model.emitted[-1][0] < resumed_at
