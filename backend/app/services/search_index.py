"""SQLite: the search index kept up in the background, one batch every few seconds.

The triggers on `messages` only note which rows to index (migration 0008); a search indexes
what is noted before it reads, so it never misses a message. This task does the same every
`INDEX_EVERY_S`, so that no search waits behind a long backlog, and each batch of messages makes
one segment of the FTS5 index instead of one per stored turn and answer.
"""

from __future__ import annotations

from app.core.periodic import PeriodicTask
from app.db.crud.search import index_pending
from app.db.session import Database

INDEX_EVERY_S = 5.0


class SearchIndexer(PeriodicTask):
    def __init__(self, db: Database, interval_s: float = INDEX_EVERY_S) -> None:
        # A run that fails (the database away) leaves what is noted for the next one.
        super().__init__(
            lambda: db.run(index_pending),
            interval_s,
            name="search-index",
            failure_event="search_index_failed",
        )
