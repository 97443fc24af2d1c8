"""The SSE response: the one place that sends a stream's frames to the client.

A pure ASGI reader of a stream buffer (not BaseHTTPMiddleware, not a thread-pool generator), with
pings during silence and disconnect detection: a watcher task listens for `http.disconnect` and
cancels the send loop at once, and pings make a vanished client show up as a failed send even on
servers that report disconnects only then.

The fast path, in this module only: while the client keeps up, frames are written by the buffer
as they are shown, once per loop tick (`DirectFrameWriter`, for buffers that offer `read_direct`,
see buffer.py), and the reader's task wakes only for pings, for a slow client and at the end.
An ASGI `send` is a coroutine, and uvicorn's completes without ever suspending unless the
client reads too slowly (the transport is paused for flow control). The writer steps that
coroutine once: if it completes, the frame is on the wire and no other task was woken for it; if
it suspends, the rest of that send runs as a task of its own, and the writer refuses frames until
the reader has waited for it, so frames never overtake each other and a slow client never blocks
the generation.

Each layer between the response and the server (Starlette's error middleware, the request
context middleware) wraps `send` in a coroutine of its own that only looks at the start message.
The application keeps the server's own `send` in the scope (`remember_server_send`): the start
message goes through every layer, the body frames straight to the server.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Coroutine
from typing import Any, cast

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from app.core.metrics import OPEN_CONNECTIONS
from app.streaming.buffer import DirectRead, FrameSource
from app.streaming.generation import Generation
from app.streaming.sse import PING_FRAME, SSE_HEADERS, retry_frame

_SERVER_SEND_SCOPE_KEY = "chatstream.server_send"


def remember_server_send(scope: Scope, send: Send) -> None:
    """Called by the outermost layer of the application, with the server's own `send`."""
    if scope["type"] == "http":
        scope[_SERVER_SEND_SCOPE_KEY] = send


class SSEResponse(Response):
    """A Response subclass only so FastAPI passes it through untouched; `__call__` is its own."""

    def __init__(
        self,
        buffer: FrameSource,
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

    def _frames(self, writer: DirectFrameWriter | None) -> AsyncIterator[bytes | None]:
        # Looked up, not `isinstance` of the protocol: a runtime protocol check walks every
        # member of it, and cost 1% of a stream's CPU here.
        read_direct: DirectRead | None = getattr(self.buffer, "read_direct", None)
        if writer is not None and read_direct is not None:
            return read_direct(self.after_seq, self.ping_interval_s, writer)
        return self.buffer.read(self.after_seq, self.ping_interval_s)

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
            # Once started, frames go straight to the server (see the module's docstring).
            send = scope.get(_SERVER_SEND_SCOPE_KEY, send)
            # The `retry` field goes out with the first frames, whoever sends them: a new
            # answer's start event is there at once, and a send is a system call and a segment.
            retry = retry_frame(self.retry_ms)
            if DirectFrameWriter.supports(send):
                writer = DirectFrameWriter(send, prefix=retry)
                retry = b""
            async for frames in self._frames(writer):
                if writer is not None:
                    await writer.flush()
                    retry = writer.take_prefix()
                body = PING_FRAME if frames is None else frames
                await send(
                    {
                        "type": "http.response.body",
                        "body": retry + body if retry else body,
                        "more_body": True,
                    }
                )
                retry = b""
            if writer is not None:
                await writer.flush()
                retry = writer.take_prefix()
            await send({"type": "http.response.body", "body": retry, "more_body": False})
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


class DirectFrameWriter:
    """Writes frames outside the reader's task when the server takes them at once (see above)."""

    __slots__ = ("_send", "_pending", "_prefix")

    def __init__(self, send: Send, *, prefix: bytes = b"") -> None:
        self._send = send
        # The rest of a send that had to wait for the client, if one is unfinished or unseen.
        self._pending: asyncio.Task[None] | None = None
        # Bytes to send before the first frames (the `retry` field), if this writer sends them.
        self._prefix = prefix

    def take_prefix(self) -> bytes:
        """What is still to go before any frame: the reader sends it with its own frames."""
        prefix, self._prefix = self._prefix, b""
        return prefix

    @staticmethod
    def supports(send: Send) -> bool:
        """Only a coroutine function's send can be stepped; others always send from the reader."""
        return inspect.iscoroutinefunction(send)

    def __call__(self, frame: bytes) -> bool:
        """A `FrameWriter`: True if the frame was sent (or is being sent), False to leave it."""
        pending = self._pending
        if pending is not None:
            if not pending.done() or pending.cancelled() or pending.exception() is not None:
                return False  # the reader waits for it, or meets its error, then sends itself
            self._pending = None
        body = self._prefix + frame if self._prefix else frame
        message = {"type": "http.response.body", "body": body, "more_body": True}
        sending = cast(Coroutine[Any, Any, None], self._send(message))
        try:
            waiting_on = sending.send(None)
        except StopIteration:
            self._prefix = b""
            return True
        except Exception:
            # It failed before writing (a server checks its state first): the reader sends this
            # frame again, in its own task, and meets the error there.
            return False
        self._prefix = b""
        self._pending = asyncio.ensure_future(_finish(sending, waiting_on))
        return True

    async def flush(self) -> None:
        """Wait until a send that had to wait is done; its error, if any, is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending

    def discard(self) -> None:
        """The response is over: stop an unfinished send, and see a finished one's error."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if not pending.done():
            pending.cancel()
        elif not pending.cancelled():
            pending.exception()  # retrieved, so asyncio does not report it as lost


async def _finish(sending: Coroutine[Any, Any, None], waiting_on: object) -> None:
    """Drive a send that suspended on its first step to its end, as a task would have."""
    try:
        while True:
            if waiting_on is None:  # a bare yield: give the loop one turn
                await asyncio.sleep(0)
            elif asyncio.isfuture(waiting_on):
                # Waited on without taking its result: the send reads it when resumed.
                await asyncio.wait((waiting_on,))
            else:
                raise RuntimeError(f"a send waited on {type(waiting_on).__name__}, not a future")
            waiting_on = sending.send(None)
    except StopIteration:
        return
    except BaseException:
        sending.close()
        raise
