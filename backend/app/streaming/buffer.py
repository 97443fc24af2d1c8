"""Per-answer event buffers: a generation writes frames once; any number of readers replay them.

`StreamBuffer` is the interface; `InMemoryStreamBuffer` keeps frames in this process. A buffer
holds encoded frames indexed by sequence number (0 = start), so a reader resumes after any event
with nothing missing and nothing repeated.

A buffer may hold frames back from its readers until they are stored elsewhere (`_show`): the
scaled mode's `LoggedBuffer` lets its readers run at most a bounded number of events ahead of
the answer's log, so a survivor of this process's death knows where to put the log's end.

`InMemoryStreamBuffer` also has `read_direct` (`DirectRead`): a reader that has caught up may
give a `FrameWriter`, and the frames appended while it waits are handed to that writer from a loop
callback, so the reader's own task is not woken for them. On a paced stream that is every frame,
and a task step per frame is a large part of what a frame costs. The callback runs once per loop
tick, before the loop waits for I/O again, with the frames of that tick joined: a generation
that appends several frames in one step costs each reader one write and one `send`, and none
waits longer than the step that appended it. The SSE response (response.py) uses it where a
buffer offers it; any other buffer is read with `read` alone.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from typing import Protocol, runtime_checkable

FrameWriter = Callable[[bytes], bool]
"""Writes frames (one, or several joined) for a waiting reader, now, from the appending code:
True if it took them (written, or being written), False if it cannot now; the reader is then
woken and sends them itself. It must not raise."""

# A reader waiting at the end of the buffer: the future that wakes it, and what takes frames
# for it while it waits (their bytes and their count; None: wake it for every frame).
_Waiting = tuple["asyncio.Future[None]", Callable[[bytes, int], bool] | None]


@runtime_checkable
class FrameSource(Protocol):
    """What an SSE response reads: a stream buffer, or another process's log (redis_log.py)."""

    def read(self, after_seq: int, idle_s: float) -> AsyncIterator[bytes | None]:
        """Frames after `after_seq`, several joined when the reader is behind; None after
        `idle_s` without a frame (the caller sends a ping). Ends after the terminal event."""
        ...


class StreamBuffer(ABC):
    @abstractmethod
    def append(self, frame: bytes) -> int:
        """Store the frame under the next sequence number, wake the readers, return the number."""

    @abstractmethod
    def close(self) -> None:
        """No more frames will come (after the terminal event)."""

    @abstractmethod
    def announce(self, frame: bytes | None) -> None:
        """Set the answer's status of the moment (a frame without an id, outside the sequence:
        `queued`), or clear it with None. Each reader is sent it once it has caught up with the
        frames, and a reader that comes later while it holds is sent it too."""

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


# A buffer that can write frames for a reader that has caught up, outside its task, has
# `read_direct`: as `read`, but frames appended while the reader waits go to `writer` as long
# as it takes them; the frames yielded are only those it did not take.
DirectRead = Callable[[int, float, FrameWriter], AsyncIterator[bytes | None]]


class InMemoryStreamBuffer(StreamBuffer):
    __slots__ = (
        "_first_seq",
        "_frames",
        "_shown",
        "_waiting",
        "_closed",
        "_flush_due",
        "_status",
        "_status_version",
    )

    def __init__(self, first_seq: int = 0) -> None:
        # The seq of the first frame: 0, or past an earlier run's events (a continued answer).
        self._first_seq = first_seq
        self._frames: list[bytes] = []
        # How many of the frames readers may see (the first ones): all, unless held back.
        self._shown = 0
        # Readers that caught up and wait for more.
        self._waiting: list[_Waiting] = []
        self._closed = False
        # Frames appended while readers wait are handed to them once per loop tick, joined: a
        # generation that appends several in one step costs each reader one write, one send.
        self._flush_due = False
        # The status of the moment (see `announce`), and how often it changed: each reader
        # sends the latest one it has not sent, so none is sent twice and none goes stale.
        self._status: bytes | None = None
        self._status_version = 0

    def append(self, frame: bytes) -> int:
        # `_store` then showing it, inlined: this runs for every frame of every answer.
        if self._closed:
            raise RuntimeError("append to a closed stream buffer")
        frames = self._frames
        frames.append(frame)
        if not self._flush_due:
            if self._waiting:  # before the loop looks for I/O again: no added latency
                self._flush_due = True
                asyncio.get_running_loop().call_soon(self._flush)
            else:  # readers not waiting read it when they run
                self._shown = len(frames)
        return self._first_seq + len(frames) - 1

    def _flush(self) -> None:
        self._flush_due = False
        self._show(len(self._frames))

    def _store(self, frame: bytes) -> int:
        """Keep the frame without showing it yet; its seq."""
        if self._closed:
            raise RuntimeError("append to a closed stream buffer")
        self._frames.append(frame)
        return self._first_seq + len(self._frames) - 1

    def _show(self, count: int) -> None:
        """Let readers see the first `count` frames; once the buffer is closed and they are
        all shown, readers end."""
        shown = self._shown
        if count > shown:
            self._shown = count
            if self._waiting:
                frames = self._frames
                joined = frames[shown] if count - shown == 1 else b"".join(frames[shown:count])
                self._offer(joined, count - shown)
        if self._closed and self._shown == len(self._frames):
            self._wake()

    def _offer(self, frames: bytes, count: int) -> None:
        waiting = self._waiting
        kept = 0  # compacted in place: those whose writer took the frames go on waiting
        for entry in waiting:
            wake, take = entry
            if wake.done():  # woken already (a ping, a cancel): it reads these frames itself
                continue
            if take is not None and take(frames, count):
                waiting[kept] = entry
                kept += 1
            else:
                wake.set_result(None)
        del waiting[kept:]

    def close(self) -> None:
        self._closed = True
        if self._shown == len(self._frames):
            self._wake()

    def announce(self, frame: bytes | None) -> None:
        self._status = frame
        self._status_version += 1
        if frame is not None:
            self._wake()  # rare (a few per answer): the readers send it from their own tasks

    def _wake(self) -> None:
        waiting, self._waiting = self._waiting, []
        for wake, _ in waiting:
            if not wake.done():
                wake.set_result(None)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def next_seq(self) -> int:
        return self._first_seq + len(self._frames)

    def read(self, after_seq: int, idle_s: float) -> AsyncIterator[bytes | None]:
        return self._read(after_seq, idle_s, None)

    def read_direct(
        self, after_seq: int, idle_s: float, writer: FrameWriter
    ) -> AsyncIterator[bytes | None]:
        return self._read(after_seq, idle_s, writer)

    async def _read(
        self, after_seq: int, idle_s: float, writer: FrameWriter | None
    ) -> AsyncIterator[bytes | None]:
        position = max(after_seq + 1 - self._first_seq, 0)  # an index into _frames
        loop = asyncio.get_running_loop()
        # One ping timer per reader, moved only when it fires: arming a timer for every wait
        # (asyncio.timeout per frame) costs more than the frame itself on a paced stream.
        last_yield = loop.time()
        waiter: asyncio.Future[None] | None = None
        ping_due = False
        status_sent = 0  # the status version this reader has sent (0: none)
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

        def take(frames: bytes, count: int) -> bool:
            # Runs outside this reader's task while it waits, so its state is not in use.
            nonlocal position, last_yield
            assert writer is not None
            if not writer(frames):
                return False
            position += count
            last_yield = loop.time()
            return True

        take_while_waiting = take if writer is not None else None
        timer = loop.call_later(idle_s, check_idle)
        try:
            while True:
                if position < self._shown:
                    end = self._shown
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
                if self._closed and position >= len(self._frames):
                    return
                if status_sent != self._status_version:
                    status_sent = self._status_version
                    if self._status is not None:
                        ping_due = False
                        last_yield = loop.time()
                        yield self._status
                        continue
                if ping_due:
                    ping_due = False
                    last_yield = loop.time()
                    yield None
                    continue
                waiter = loop.create_future()
                self._waiting.append((waiter, take_while_waiting))
                await waiter
                waiter = None
        finally:
            timer.cancel()
