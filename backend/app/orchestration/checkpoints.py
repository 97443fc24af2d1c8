"""Embedded mode: partial answers written to the database every STREAM_CHECKPOINT_S.

Without Redis an answer in flight lives in this process alone. Each tick writes the text so far
of every answer that grew since the last tick, with where its chunks end, in statements of
`SLICE` answers each (an executemany per unit of work). After a `kill -9` and a restart those
answers become `interrupted` with their checkpointed text, and a client that reconnects with its
last event id is told the rest of that text and the terminal event, exactly
(app/streaming/replay.py).

Why slices: every send's units of work queue behind a checkpoint's in SQLite's one thread, and a
slice's text is gathered on the event loop. With a thousand answers in flight one unit for all
of them took 50-100 ms (160-500 ms while the search index re-read every growing text), and
gathering their text blocked the loop 4-7 ms: sends opened late, and every stream's chunks with
them. A slice of 100 is a few milliseconds of each, with the sends' units in between.
"""

from __future__ import annotations

import uuid

from app.core.metrics import CHECKPOINTS
from app.core.periodic import PeriodicTask
from app.db.session import Database
from app.services import turns
from app.streaming.generation import Generation
from app.streaming.manager import StreamManager

# Answers per unit of work (see above).
SLICE = 100


class Checkpointer(PeriodicTask):
    def __init__(self, db: Database, streams: StreamManager, interval_s: float) -> None:
        # A tick that fails (the database away) is caught up by the next: it writes them all.
        super().__init__(
            self.checkpoint,
            interval_s,
            name="stream-checkpoints",
            failure_event="checkpoint_failed",
        )
        self._db = db
        self._streams = streams
        # Chunks written at the last checkpoint, per answer in flight.
        self._written: dict[uuid.UUID, int] = {}

    async def checkpoint(self) -> int:
        """Write every answer that grew since the last checkpoint; how many were written."""
        counts: dict[uuid.UUID, int] = {}
        grown: list[Generation] = []
        for generation in self._streams.running():
            count = generation.chunk_count
            counts[generation.message_id] = count
            if count and self._written.get(generation.message_id) != count:
                grown.append(generation)
        for start in range(0, len(grown), SLICE):
            partials: list[dict[str, object]] = []
            for generation in grown[start : start + SLICE]:  # their text as it is now
                content, ends = generation.partial()
                counts[generation.message_id] = len(ends)
                partials.append(
                    {
                        "answer_id": generation.message_id,
                        "content": content,
                        "chunk_count": len(ends),
                        "chunk_ends": ends,
                    }
                )
            await turns.checkpoint_answers(self._db, partials)
            CHECKPOINTS.inc(len(partials))
        # Only once every slice is written: after a failure the next tick writes them all.
        self._written = {
            answer: count for answer, count in counts.items() if count or answer in self._written
        }
        return len(grown)
