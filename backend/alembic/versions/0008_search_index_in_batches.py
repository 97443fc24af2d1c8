"""Search indexes settled messages in batches: the triggers only note which rows to index

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 01:20:00

SQLite: the triggers of 0007 wrote every settled message into `messages_fts` in the transaction
that stored it. FTS5 writes a new segment of its index at every such commit, and joins every
later statement of the transaction with a savepoint of its own: a sixth of a stream's work in
SQLite's thread (its question indexed with its turn, its answer with its save). Now the
triggers note the row in `messages_fts_pending` (same conditions: a message stored settled, or
whose content or status changes to a settled one), and `index_pending`
(app/db/crud/search.py) moves what is noted into the index in one transaction: before every
search, in the search's own transaction (so a search finds everything stored before it), and
every few seconds in the background (app/services/search_index.py). The note is written with
the row, so nothing stored is ever left out of the index, whatever stops the process. Deleting
a message still takes it out of the index at once.

PostgreSQL: nothing changes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SETTLED = "WHEN new.status != 'streaming' "
_NOTE_ROW = "INSERT OR IGNORE INTO messages_fts_pending (message_rowid) VALUES (new.rowid); "
_INDEX_ROW = (
    "INSERT INTO messages_fts (rowid, content, message_id) "
    "VALUES (new.rowid, new.content, new.id); "
)
# What index_pending does (app/db/crud/search.py), for the downgrade: the noted rows indexed.
_INDEX_PENDING = (
    "DELETE FROM messages_fts WHERE rowid IN (SELECT message_rowid FROM messages_fts_pending)",
    "INSERT INTO messages_fts (rowid, content, message_id) "
    "SELECT m.rowid, m.content, m.id FROM messages_fts_pending AS p "
    "JOIN messages AS m ON m.rowid = p.message_rowid WHERE m.status != 'streaming'",
)

NOTING_TRIGGERS = (
    "CREATE TABLE messages_fts_pending (message_rowid INTEGER PRIMARY KEY)",
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TRIGGER IF EXISTS messages_fts_update",
    f"CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages {_SETTLED}BEGIN {_NOTE_ROW}END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages "
    f"{_SETTLED}BEGIN {_NOTE_ROW}END",
)
# 0007's triggers, after the rows noted are indexed.
INDEXING_TRIGGERS = (
    *_INDEX_PENDING,
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TRIGGER IF EXISTS messages_fts_update",
    "DROP TABLE messages_fts_pending",
    f"CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages {_SETTLED}BEGIN {_INDEX_ROW}END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages "
    f"{_SETTLED}BEGIN DELETE FROM messages_fts WHERE rowid = old.rowid; {_INDEX_ROW}END",
)


def _on_sqlite(statements: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in statements:
            op.execute(statement)


def upgrade() -> None:
    _on_sqlite(NOTING_TRIGGERS)


def downgrade() -> None:
    _on_sqlite(INDEXING_TRIGGERS)
