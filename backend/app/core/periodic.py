"""A background task that runs a piece of work every few seconds until it is closed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("chatstream.periodic")


class PeriodicTask:
    """Runs `work` every `interval_s` (after each wait, not counting its own time). A run that
    raises is logged as `failure_event` and the next one comes as usual: the work is expected
    to catch up (a database away for a while, say)."""

    def __init__(
        self,
        work: Callable[[], Awaitable[object]],
        interval_s: float,
        *,
        name: str,
        failure_event: str,
    ) -> None:
        self._work = work
        self._interval_s = interval_s
        self._name = name
        self._failure_event = failure_event
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self._work()
            except Exception as exc:
                log.warning(self._failure_event, error_type=type(exc).__name__)
