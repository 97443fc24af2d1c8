"""The SSE response: a pure ASGI reader of a stream buffer, with pings and disconnect detection.

Pure ASGI (not BaseHTTPMiddleware, not a thread-pool generator) so each frame goes straight to
the server: while the client keeps up, the generation's own task sends it (`DirectFrameWriter`),
and this reader's task wakes only for pings, for a slow client and at the end. A watcher task
listens for `http.disconnect` and cancels the send loop at once, and pings during silence make a
vanished client show up as a failed send even on servers that report disconnects only then.
"""

from __future__ import annotations

import asyncio

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from app.core.asgi import SERVER_SEND_SCOPE_KEY
from app.core.metrics import OPEN_CONNECTIONS
from app.streaming.buffer import StreamBuffer
from app.streaming.direct_send import DirectFrameWriter
from app.streaming.generation import Generation
from app.streaming.sse import PING_FRAME, SSE_HEADERS, retry_frame


class SSEResponse(Response):
    """A Response subclass only so FastAPI passes it through untouched; `__call__` is its own."""

    def __init__(
        self,
        buffer: StreamBuffer,
        *,
        after_seq: int,
        generation: Generation | None,
        retry_ms: int,
        ping_interval_s: float,
    ) -> None:
        super().__init__(status_code=200)
        self.buffer = buffer
        self.after_seq = after_seq
        self.generation = generation
        self.retry_ms = retry_ms
        self.ping_interval_s = ping_interval_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A reader from the first moment, so no disconnect grace can run out in between.
        if self.generation is not None:
            self.generation.attach()
        sender = asyncio.current_task()
        assert sender is not None
        disconnected = asyncio.Event()

        async def watch_disconnect() -> None:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    sender.cancel()
                    return

        watcher = asyncio.create_task(watch_disconnect())
        writer: DirectFrameWriter | None = None
        OPEN_CONNECTIONS.inc()
        try:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            # Once started, frames go straight to the server (see app/core/asgi.py).
            send = scope.get(SERVER_SEND_SCOPE_KEY, send)
            if DirectFrameWriter.supports(send):
                writer = DirectFrameWriter(send)
            await send(
                {
                    "type": "http.response.body",
                    "body": retry_frame(self.retry_ms),
                    "more_body": True,
                }
            )
            async for frames in self.buffer.read(self.after_seq, self.ping_interval_s, writer):
                if writer is not None:
                    await writer.flush()
                await send(
                    {
                        "type": "http.response.body",
                        "body": PING_FRAME if frames is None else frames,
                        "more_body": True,
                    }
                )
            if writer is not None:
                await writer.flush()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not disconnected.is_set():
                raise
            sender.uncancel()
        except OSError:  # the client went away between two sends
            pass
        finally:
            if writer is not None:
                writer.discard()
            watcher.cancel()
            OPEN_CONNECTIONS.dec()
            if self.generation is not None:
                self.generation.detach()
