"""One model, one answer at a time: a first-come queue that knows each waiter's place.

A model that can compute only one answer at a time (the local llama.cpp model) lets the others
wait here, in arrival order. Each waiter hears its place (1 = next) whenever it changes, and
`None` when its turn comes, so its client can be told where it stands instead of watching a
silent spinner. A waiter that gives up (its answer stopped, its client gone) leaves the queue and
those behind it move up; one given the turn just as it gave up passes the turn on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

PositionListener = Callable[[int | None], None]
"""Told a waiter's place in the queue (1 = next) when it changes, then None when its turn
comes. It runs in whichever task changed the queue, so it must be quick and must not raise."""


class _Waiter:
    __slots__ = ("granted", "listener", "told")

    def __init__(self, granted: asyncio.Future[None], listener: PositionListener | None) -> None:
        self.granted = granted
        self.listener = listener
        self.told: int | None = None

    def tell(self, position: int | None) -> None:
        if self.listener is not None and position != self.told:
            self.told = position
            self.listener(position)


class TurnQueue:
    """A fair lock with visible places. `still_waiting` is called every `patience_s` seconds
    while a waiter waits, so a caller can show it is alive although its place has not moved."""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: deque[_Waiter] = deque()

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @asynccontextmanager
    async def turn(
        self,
        listener: PositionListener | None = None,
        *,
        still_waiting: Callable[[], None] | None = None,
        patience_s: float = 5.0,
    ) -> AsyncIterator[None]:
        await self.acquire(listener, still_waiting=still_waiting, patience_s=patience_s)
        try:
            yield
        finally:
            self.release()

    async def acquire(
        self,
        listener: PositionListener | None = None,
        *,
        still_waiting: Callable[[], None] | None = None,
        patience_s: float = 5.0,
    ) -> None:
        if not self._busy and not self._waiting:
            self._busy = True  # nobody ahead: no place to tell
            return
        waiter = _Waiter(asyncio.get_running_loop().create_future(), listener)
        self._waiting.append(waiter)
        waiter.tell(len(self._waiting))
        try:
            # Waited on in slices (asyncio.wait never cancels the future), so the place is kept.
            while not (await asyncio.wait({waiter.granted}, timeout=patience_s))[0]:
                if still_waiting is not None:
                    still_waiting()
        except BaseException:
            if waiter.granted.done() and not waiter.granted.cancelled():
                self.release()  # given the turn just as it gave up: the next one has it
            else:
                waiter.granted.cancel()
                self._leave(waiter)
            raise
        waiter.tell(None)

    def release(self) -> None:
        """The holder is done: the longest waiter gets the turn, the others move up."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.granted.done():
                waiter.granted.set_result(None)
                self._tell_places()
                return
        self._busy = False

    def _leave(self, waiter: _Waiter) -> None:
        try:
            self._waiting.remove(waiter)
        except ValueError:  # already taken off by a release that skipped it
            return
        self._tell_places()

    def _tell_places(self) -> None:
        for place, waiter in enumerate(self._waiting, start=1):
            waiter.tell(place)
