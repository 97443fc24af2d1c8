"""Full-text search over messages: FTS5 on SQLite, a tsvector expression index on PostgreSQL

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 04:30:00

SQLite: `messages_fts`, an FTS5 table holding each message's text and id, kept in step by
triggers on `messages` (keyed by the message row's rowid). A later migration that rebuilds
`messages` (a batch ALTER copies the table) drops these triggers: it must create them again
and refill the index, as `upgrade()` does here.

PostgreSQL: a GIN index on `to_tsvector('simple', content)`; app/db/crud/search.py queries that
same expression, so the planner uses it. Existing rows are indexed by both.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UPGRADE = (
    # unicode61 folds case; accents count (remove_diacritics 0), as in PostgreSQL's 'simple'.
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "content, message_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 0')",
    "INSERT INTO messages_fts (rowid, content, message_id) SELECT rowid, content, id FROM messages",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts (rowid, content, message_id) "
    "VALUES (new.rowid, new.content, new.id); "
    "END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN "
    "DELETE FROM messages_fts WHERE rowid = old.rowid; "
    "INSERT INTO messages_fts (rowid, content, message_id) "
    "VALUES (new.rowid, new.content, new.id); "
    "END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "DELETE FROM messages_fts WHERE rowid = old.rowid; "
    "END",
)
SQLITE_DOWNGRADE = (
    "DROP TRIGGER IF EXISTS messages_fts_delete",
    "DROP TRIGGER IF EXISTS messages_fts_update",
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TABLE IF EXISTS messages_fts",
)
POSTGRES_UPGRADE = (
    "CREATE INDEX ix_messages_content_search ON messages "
    "USING gin (to_tsvector('simple'::regconfig, content))",
)
POSTGRES_DOWNGRADE = ("DROP INDEX IF EXISTS ix_messages_content_search",)


def _run(sqlite: Sequence[str], postgres: Sequence[str]) -> None:
    dialect = op.get_bind().dialect.name
    for statement in sqlite if dialect == "sqlite" else postgres:
        op.execute(statement)


def upgrade() -> None:
    _run(SQLITE_UPGRADE, POSTGRES_UPGRADE)


def downgrade() -> None:
    _run(SQLITE_DOWNGRADE, POSTGRES_DOWNGRADE)
