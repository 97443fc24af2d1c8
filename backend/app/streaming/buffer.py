"""Per-answer event buffers: a generation writes frames once; any number of readers replay them.

`StreamBuffer` is the interface; `InMemoryStreamBuffer` keeps frames in this process. A buffer
holds encoded frames indexed by sequence number (0 = start), so a reader resumes after any event
with nothing missing and nothing repeated.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator


class StreamBuffer(ABC):
    @abstractmethod
    def append(self, frame: bytes) -> int:
        """Store the frame under the next sequence number, wake the readers, return the number."""

    @abstractmethod
    def close(self) -> None:
        """No more frames will come (after the terminal event)."""

    @property
    @abstractmethod
    def closed(self) -> bool: ...

    @property
    @abstractmethod
    def next_seq(self) -> int: ...

    @abstractmethod
    def read(self, after_seq: int, idle_s: float) -> AsyncIterator[bytes | None]:
        """Frames after `after_seq`, several joined when the reader is behind; None after
        `idle_s` without a frame (the caller sends a ping). Ends when the buffer is closed."""


class InMemoryStreamBuffer(StreamBuffer):
    __slots__ = ("_frames", "_waiters", "_closed")

    def __init__(self) -> None:
        self._frames: list[bytes] = []
        # Futures of readers that caught up and wait for more: nothing is allocated per frame.
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    def append(self, frame: bytes) -> int:
        if self._closed:
            raise RuntimeError("append to a closed stream buffer")
        self._frames.append(frame)
        if self._waiters:
            self._wake()
        return len(self._frames) - 1

    def close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def next_seq(self) -> int:
        return len(self._frames)

    async def read(self, after_seq: int, idle_s: float) -> AsyncIterator[bytes | None]:
        position = max(after_seq + 1, 0)
        loop = asyncio.get_running_loop()
        # One ping timer per reader, moved only when it fires: arming a timer for every wait
        # (asyncio.timeout per frame) costs more than the frame itself on a paced stream.
        last_yield = loop.time()
        waiter: asyncio.Future[None] | None = None
        ping_due = False
        timer: asyncio.TimerHandle

        def check_idle() -> None:
            nonlocal timer, ping_due
            idle_for = loop.time() - last_yield
            if idle_for < idle_s:
                timer = loop.call_later(idle_s - idle_for, check_idle)
                return
            ping_due = True
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            timer = loop.call_later(idle_s, check_idle)

        timer = loop.call_later(idle_s, check_idle)
        try:
            while True:
                if position < len(self._frames):
                    end = len(self._frames)
                    frames = (
                        self._frames[position]
                        if end - position == 1
                        else b"".join(self._frames[position:end])
                    )
                    position = end
                    ping_due = False
                    last_yield = loop.time()
                    yield frames
                    continue
                if self._closed:
                    return
                if ping_due:
                    ping_due = False
                    last_yield = loop.time()
                    yield None
                    continue
                waiter = loop.create_future()
                self._waiters.append(waiter)
                await waiter
                waiter = None
        finally:
            timer.cancel()
