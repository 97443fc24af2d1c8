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
    __slots__ = ("_frames", "_changed", "_closed")

    def __init__(self) -> None:
        self._frames: list[bytes] = []
        self._changed = asyncio.Event()
        self._closed = False

    def append(self, frame: bytes) -> int:
        if self._closed:
            raise RuntimeError("append to a closed stream buffer")
        self._frames.append(frame)
        self._wake()
        return len(self._frames) - 1

    def close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        # Replace the event so each reader waits on the one current when it last caught up.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def next_seq(self) -> int:
        return len(self._frames)

    async def read(self, after_seq: int, idle_s: float) -> AsyncIterator[bytes | None]:
        position = max(after_seq + 1, 0)
        while True:
            changed = self._changed
            if position < len(self._frames):
                end = len(self._frames)
                yield (
                    self._frames[position]
                    if end - position == 1
                    else b"".join(self._frames[position:end])
                )
                position = end
                continue
            if self._closed:
                return
            try:
                async with asyncio.timeout(idle_s):
                    await changed.wait()
            except TimeoutError:
                yield None
