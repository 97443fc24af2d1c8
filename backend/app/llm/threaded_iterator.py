"""A blocking generator run on an executor thread, its items handed to the event loop as they come.

The thread never waits for the loop: llama.cpp computes the next token while the loop sends the
last one. Asked for one item at a time (`run_in_executor(next, ...)` per token), the model sat
idle for every token's trip through the loop and back, which on a loop busy with many streams is
a wait behind all of their work, every token.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Generator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


class _End:
    pass


_END = _End()


class ThreadedIterator(Generic[T]):
    """`items` runs on `executor` from construction: `await ready(...)`, then `take()`.
    `close()` stops it after the item being computed and closes it, on its thread."""

    def __init__(self, items: Generator[T, None, None], executor: Executor) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: deque[T | _Failed | _End] = deque()
        self._arrived = asyncio.Event()
        self._stop = threading.Event()
        self._done = self._loop.run_in_executor(executor, self._run, items)

    def _run(self, items: Generator[T, None, None]) -> None:
        try:
            for item in items:
                self._hand_over(item)
                if self._stop.is_set():
                    return
            self._hand_over(_END)
        except Exception as exc:  # raised to the reader, from `take`
            self._hand_over(_Failed(exc))
        finally:
            items.close()

    def _hand_over(self, item: T | _Failed | _End) -> None:
        try:
            self._loop.call_soon_threadsafe(self._arrive, item)
        except RuntimeError:  # the loop is closed: nobody will read on
            self._stop.set()

    def _arrive(self, item: T | _Failed | _End) -> None:
        self._queue.append(item)
        self._arrived.set()

    async def ready(self, timeout_s: float) -> bool:
        """Whether an item (or the end, or an error) is there to take, waiting up to `timeout_s`."""
        if self._queue:
            return True
        self._arrived.clear()
        try:
            async with asyncio.timeout(timeout_s):
                await self._arrived.wait()
        except TimeoutError:
            return False
        return True

    def take(self) -> T | None:
        """The next item, None at the end; the generator's error is raised here. After `ready`."""
        item = self._queue[0]
        if isinstance(item, _Failed):
            raise item.error
        if isinstance(item, _End):
            return None
        self._queue.popleft()
        return item

    async def close(self) -> None:
        """Stop after the item being computed; return once the generator is closed."""
        self._stop.set()
        await asyncio.shield(self._done)
