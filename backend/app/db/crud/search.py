"""Full-text search over one user's messages: SQLite FTS5 or PostgreSQL, behind one function.

The index itself is made by migration 0004 (not by the models): on SQLite the FTS5 table
`messages_fts`, on PostgreSQL a GIN index on `to_tsvector('simple', content)`. On SQLite the
triggers on `messages` note the rows to index (migration 0008) and `index_pending` indexes them,
in batches: before each search, in its transaction, and every few seconds in the background.
The user's text never reaches either query language as written: it is cut into words, and each
word becomes a quoted prefix term, so `"`, `*`, `NEAR(`, `-` or `:` are only punctuation.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, TextClause, TextualSelect, Uuid, bindparam, text
from sqlalchemy.orm import Session

from app.db.base import UTCDateTime

# What the models do not describe, for Alembic's comparisons to leave alone.
SEARCH_TABLE = "messages_fts"
SEARCH_INDEX = "ix_messages_content_search"

# Private-use characters around each match in the database's snippet: removed before the
# snippet leaves here (a client marks the query's words itself, with no markup to trust).
_MATCH_START = "\ue000"
_MATCH_END = "\ue001"
# A message this short is its own snippet (both databases' snippets drop some punctuation).
_WHOLE_MAX_CHARS = 160
_MAX_TERMS = 16
_SNIPPET_WORDS = 16
# Letters and digits: what both databases' word parsers keep (`_` separates words in both).
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class SearchHit:
    conversation_id: uuid.UUID
    conversation_title: str | None
    message_id: uuid.UUID
    role: str
    snippet: str
    created_at: datetime


def is_search_object(name: str | None) -> bool:
    """A table or index of the search index (FTS5 makes shadow tables `messages_fts_*`)."""
    return name is not None and (name == SEARCH_INDEX or name.startswith(SEARCH_TABLE))


_INDEX_PENDING = (
    # Settled now (or gone): their text as it was leaves the index. A row noted, then reopened
    # by a Continue, keeps its text there until it settles again, as a search never shows it.
    text(
        "DELETE FROM messages_fts WHERE rowid IN (SELECT p.message_rowid "
        "FROM messages_fts_pending AS p LEFT JOIN messages AS m ON m.rowid = p.message_rowid "
        "WHERE m.rowid IS NULL OR m.status != 'streaming')"
    ),
    text(
        "INSERT INTO messages_fts (rowid, content, message_id) "
        "SELECT m.rowid, m.content, m.id FROM messages_fts_pending AS p "
        "JOIN messages AS m ON m.rowid = p.message_rowid WHERE m.status != 'streaming'"
    ),
)
_NOTED = text("DELETE FROM messages_fts_pending")


def index_pending(session: Session) -> int:
    """SQLite: index the messages the triggers noted since the last time, in one transaction
    (one segment of the index for all of them); how many were noted. Nothing elsewhere."""
    if session.get_bind().dialect.name != "sqlite":
        return 0
    for statement in _INDEX_PENDING:
        session.execute(statement)
    noted: int = session.execute(_NOTED).rowcount  # type: ignore[attr-defined]
    return noted


def search_terms(query: str) -> list[str]:
    """The words of a query, lower-cased, in order, without repeats (at most 16)."""
    terms: list[str] = []
    for word in _WORD.findall(query.lower()):
        if word not in terms:
            terms.append(word)
    return terms[:_MAX_TERMS]


def search_messages(
    session: Session, user_id: uuid.UUID, query: str, *, limit: int
) -> list[SearchHit]:
    """The user's messages holding every word of `query` (each as a prefix), best match first,
    newer first among equals; nobody else's, whatever the query."""
    terms = search_terms(query)
    if not terms:
        return []
    if session.get_bind().dialect.name == "sqlite":
        index_pending(session)  # everything stored before the search is found
        statement, match = _SQLITE_SEARCH, " ".join(f'"{term}"*' for term in terms)
    else:
        statement, match = _POSTGRES_SEARCH, " & ".join(f"{term}:*" for term in terms)
    rows = session.execute(statement, {"user_id": user_id, "match": match, "limit": limit})
    return [
        SearchHit(
            conversation_id=row.conversation_id,
            conversation_title=row.title,
            message_id=row.message_id,
            role=row.role,
            snippet=_plain(row.snippet),
            created_at=row.created_at,
        )
        for row in rows
    ]


def _plain(snippet: str) -> str:
    return " ".join(snippet.replace(_MATCH_START, "").replace(_MATCH_END, "").split())


def _typed(statement: TextClause) -> TextualSelect:
    """The statement with the app's column types on its parameters and results (on SQLite a
    Uuid is 32 hex digits and a time naive UTC text: the types convert them)."""
    return statement.bindparams(bindparam("user_id", type_=Uuid())).columns(
        conversation_id=Uuid(),
        title=String(),
        message_id=Uuid(),
        role=String(),
        created_at=UTCDateTime(),
        snippet=String(),
    )


# Only what the conversations show (migration 0006): the chosen version of each message, and no
# answer to a question whose other version is chosen. And only settled messages: an answer
# still streaming is found once it ends (SQLite indexes no partial text, migration 0007; the
# same condition keeps PostgreSQL's results the same).
_SHOWN = (
    "m.chosen AND m.status != 'streaming' AND NOT EXISTS (SELECT 1 FROM messages AS question "
    "WHERE question.id = m.reply_to_id AND NOT question.chosen)"
)

_SQLITE_SEARCH = _typed(
    text(
        f"""
    SELECT m.conversation_id, c.title, m.id AS message_id, m.role, m.created_at,
           CASE WHEN length(m.content) <= {_WHOLE_MAX_CHARS} THEN m.content
                ELSE snippet(messages_fts, 0, '{_MATCH_START}', '{_MATCH_END}', '…',
                             {_SNIPPET_WORDS})
           END AS snippet
    FROM messages_fts
    JOIN messages AS m ON m.id = messages_fts.message_id
    JOIN conversations AS c ON c.id = m.conversation_id
    WHERE messages_fts MATCH :match AND m.user_id = :user_id AND {_SHOWN}
    ORDER BY bm25(messages_fts), m.created_at DESC, m.id
    LIMIT :limit
    """
    )
)

_HEADLINE_OPTIONS = (
    f'StartSel="{_MATCH_START}", StopSel="{_MATCH_END}", MaxWords={_SNIPPET_WORDS}, MinWords=6, '
    'ShortWord=2, MaxFragments=1, FragmentDelimiter=" … "'
)
# The tsvector expression is the index's own (migration 0004); ts_headline runs only on the
# page of hits, not on every match.
_POSTGRES_SEARCH = _typed(
    text(
        f"""
    WITH q AS (SELECT to_tsquery('simple', :match) AS query),
    hits AS (
        SELECT m.id, m.conversation_id, m.role, m.content, m.created_at,
               ts_rank(to_tsvector('simple'::regconfig, m.content), q.query) AS rank
        FROM messages AS m, q
        WHERE m.user_id = :user_id AND {_SHOWN}
          AND to_tsvector('simple'::regconfig, m.content) @@ q.query
        ORDER BY rank DESC, m.created_at DESC, m.id
        LIMIT :limit
    )
    SELECT hits.conversation_id, c.title, hits.id AS message_id, hits.role, hits.created_at,
           CASE WHEN length(hits.content) <= {_WHOLE_MAX_CHARS} THEN hits.content
                ELSE ts_headline('simple', hits.content, q.query, '{_HEADLINE_OPTIONS}')
           END AS snippet
    FROM hits JOIN conversations AS c ON c.id = hits.conversation_id, q
    ORDER BY hits.rank DESC, hits.created_at DESC, hits.id
    """
    )
)
