"""Embedded mode: partial answers written to the database every STREAM_CHECKPOINT_S.

Without Redis an answer in flight lives in this process alone. Each tick writes the text so far
of every answer that grew since the last tick, with where its chunks end, in one statement
(an executemany). After a `kill -9` and a restart those answers become `interrupted` with their
checkpointed text, and a client that reconnects with its last event id is told the rest of that
text and the terminal event, exactly (app/streaming/replay.py).
"""

from __future__ import annotations

import asyncio
import uuid

import structlog

from app.core.metrics import CHECKPOINTS
from app.db.session import Database
from app.services import turns
from app.streaming.manager import StreamManager

log = structlog.get_logger("chatstream.checkpoints")


class Checkpointer:
    def __init__(self, db: Database, streams: StreamManager, interval_s: float) -> None:
        self._db = db
        self._streams = streams
        self._interval_s = interval_s
        # Chunks written at the last checkpoint, per answer in flight.
        self._written: dict[uuid.UUID, int] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="stream-checkpoints")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.checkpoint()
            except Exception as exc:  # the database is away: the next tick writes it all
                log.warning("checkpoint_failed", error_type=type(exc).__name__)

    async def checkpoint(self) -> int:
        """Write every answer that grew since the last checkpoint; how many were written."""
        partials: list[dict[str, object]] = []
        counts: dict[uuid.UUID, int] = {}
        for generation in self._streams.running():
            count = generation.chunk_count
            counts[generation.message_id] = count
            if count == 0 or self._written.get(generation.message_id) == count:
                continue
            content, ends = generation.partial()
            partials.append(
                {
                    "answer_id": generation.message_id,
                    "content": content,
                    "chunk_count": len(ends),
                    "chunk_ends": ends,
                }
            )
        if partials:
            await turns.checkpoint_answers(self._db, partials)
            CHECKPOINTS.inc(len(partials))
        self._written = {
            answer: count for answer, count in counts.items() if count or answer in self._written
        }
        return len(partials)
