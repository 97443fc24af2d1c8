"""SQLite: the search index kept up in the background, one batch every few seconds.

The triggers on `messages` only note which rows to index (migration 0008); a search indexes
what is noted before it reads, so it never misses a message. This task does the same every
`INDEX_EVERY_S`, so that no search waits behind a long backlog, and each batch of messages makes
one segment of the FTS5 index instead of one per stored turn and answer.
"""

from __future__ import annotations

import asyncio

import structlog

from app.db.crud.search import index_pending
from app.db.session import Database

log = structlog.get_logger("chatstream.search_index")

INDEX_EVERY_S = 5.0


class SearchIndexer:
    def __init__(self, db: Database, interval_s: float = INDEX_EVERY_S) -> None:
        self._db = db
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="search-index")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self._db.run(index_pending)
            except Exception as exc:  # the database is away: what is noted waits for the next
                log.warning("search_index_failed", error_type=type(exc).__name__)
