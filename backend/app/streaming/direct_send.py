"""Sending a stream's frame from the task that produced it, when the server takes it at once.

An ASGI `send` is a coroutine, and uvicorn's completes without ever suspending unless the client
reads too slowly (the transport is paused for flow control). `DirectFrameWriter` steps that
coroutine once, in whichever task appends the frame. If it completes, the frame is on the wire
and no other task was woken for it. If it suspends, the rest of that send runs as a task of its
own, and the writer refuses frames until the reader has waited for it: frames never overtake
each other, and a slow client never blocks the generation.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Coroutine
from typing import Any, cast

from starlette.types import Send


class DirectFrameWriter:
    __slots__ = ("_send", "_pending")

    def __init__(self, send: Send) -> None:
        self._send = send
        # The rest of a send that had to wait for the client, if one is unfinished or unseen.
        self._pending: asyncio.Task[None] | None = None

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
        message = {"type": "http.response.body", "body": frame, "more_body": True}
        sending = cast(Coroutine[Any, Any, None], self._send(message))
        try:
            waiting_on = sending.send(None)
        except StopIteration:
            return True
        except Exception:
            # It failed before writing (a server checks its state first): the reader sends this
            # frame again, in its own task, and meets the error there.
            return False
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
