"""Search indexes settled messages only: not the text of an answer still streaming

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:05:00

SQLite: the triggers of 0004 re-indexed an answer's whole text at every update of its content.
The embedded mode checkpoints every answer in flight every STREAM_CHECKPOINT_S, so with a
thousand answers streaming each checkpoint tokenised a thousand growing texts again: one unit
of work of 160-500 ms that every send waited behind. Now a message is indexed when it is
stored settled (any status but `streaming`), and again whenever its content or status changes
to a settled one: an answer's final save, its interruption after a crash (the checkpointed
text), a Stop. A reopened answer (Continue) keeps its previous text in the index until it
settles again. A later migration that rebuilds `messages` must create these triggers again.

PostgreSQL: nothing changes (its expression index follows every row, and its mode writes no
checkpoints).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX_ROW = (
    "INSERT INTO messages_fts (rowid, content, message_id) "
    "VALUES (new.rowid, new.content, new.id); "
)
_STREAMING_ROWIDS = "SELECT rowid FROM messages WHERE status = 'streaming'"
_SETTLED = "WHEN new.status != 'streaming' "

SETTLED_TRIGGERS = (
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TRIGGER IF EXISTS messages_fts_update",
    f"CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages {_SETTLED}BEGIN {_INDEX_ROW}END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages "
    f"{_SETTLED}BEGIN DELETE FROM messages_fts WHERE rowid = old.rowid; {_INDEX_ROW}END",
    # Answers streaming now: their partial text leaves the index until they settle.
    f"DELETE FROM messages_fts WHERE rowid IN ({_STREAMING_ROWIDS})",
)
# 0004's triggers, and the answers streaming indexed again as they stand.
EVERY_UPDATE_TRIGGERS = (
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TRIGGER IF EXISTS messages_fts_update",
    f"CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN {_INDEX_ROW}END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages "
    f"BEGIN DELETE FROM messages_fts WHERE rowid = old.rowid; {_INDEX_ROW}END",
    f"DELETE FROM messages_fts WHERE rowid IN ({_STREAMING_ROWIDS})",
    "INSERT INTO messages_fts (rowid, content, message_id) "
    "SELECT rowid, content, id FROM messages WHERE status = 'streaming'",
)


def _on_sqlite(statements: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in statements:
            op.execute(statement)


def upgrade() -> None:
    _on_sqlite(SETTLED_TRIGGERS)


def downgrade() -> None:
    _on_sqlite(EVERY_UPDATE_TRIGGERS)
