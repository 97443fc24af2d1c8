"""The baseline: a bare Starlette app, one StreamingResponse SSE endpoint, nothing else.

It serves the same frames as ChatStream's /api/v1/chat/stream (DESIGN.md §3): `retry:`, a `start`
event, BASELINE_CHUNKS `chunk` events with the scripted model's pieces (from BASELINE_PIECES_FILE,
a JSON list), a `complete` event; same `id: <uuid>:<seq>` lines, same JSON encoding per event,
same pacing (each chunk due BASELINE_CHUNK_DELAY_S after the one before, counted from the start
as the scripted model counts, none when 0).
No database, no auth, no buffer, no middleware. Run under uvicorn with the settings
`chatstream serve` uses (app/server.py): auto loop and HTTP implementation (uvloop and
httptools when installed), no access log, no log config, proxy headers on.

Usage: python bench/baseline_server.py --port 8124
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import probe  # noqa: E402

RETRY_MS = int(os.environ.get("STREAM_RETRY_MS", "3000"))
CHUNKS = int(os.environ.get("BASELINE_CHUNKS", "2000"))
DELAY_S = float(os.environ.get("BASELINE_CHUNK_DELAY_S", "0"))


def _load_pieces() -> list[str]:
    path = os.environ.get("BASELINE_PIECES_FILE")
    if path:
        with open(path, encoding="utf-8") as fh:
            pieces: list[str] = json.load(fh)
        if pieces:
            return pieces
    return ["Hello ", "world! "]


PIECES = _load_pieces()
SCRIPT = [PIECES[i % len(PIECES)] for i in range(CHUNKS)]


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


async def stream(request: Request) -> StreamingResponse:
    message_id = str(uuid.uuid4())
    conversation_id = str(uuid.uuid4())
    user_message_id = str(uuid.uuid4())

    async def events() -> AsyncIterator[bytes]:
        yield f"retry: {RETRY_MS}\n\n".encode()
        start = _dumps(
            {
                "type": "start",
                "message_id": message_id,
                "conversation_id": conversation_id,
                "user_message_id": user_message_id,
            }
        )
        yield f"id: {message_id}:0\ndata: {start}\n\n".encode()
        seq = 0
        loop = asyncio.get_running_loop()
        due = loop.time()  # each chunk due one delay after the last, as the scripted model does
        for index, piece in enumerate(SCRIPT):
            if DELAY_S:
                due += DELAY_S
                await asyncio.sleep(max(0.0, due - loop.time()))
            seq += 1
            data = _dumps({"type": "chunk", "content": piece, "index": index})
            yield f"id: {message_id}:{seq}\ndata: {data}\n\n".encode()
        complete = _dumps(
            {
                "type": "complete",
                "message_id": message_id,
                "conversation_id": conversation_id,
                "chunks": len(SCRIPT),
                "finish_reason": "stop",
                "onboarding": None,
            }
        )
        yield f"id: {message_id}:{seq + 1}\ndata: {complete}\n\n".encode()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


app = Starlette(routes=[Route("/api/v1/chat/stream", stream)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    probe.install(os.environ.get("BENCH_PROBE_FILE"))
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        access_log=False,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=15,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
