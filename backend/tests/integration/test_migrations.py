"""Alembic: up, down and up again on SQLite and PostgreSQL; the result matches the models;
the search index covers messages stored before it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import String, Text, Uuid, bindparam, column, insert, table, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from alembic import command
from app.db.base import UTCDateTime, utcnow
from app.db.crud.search import search_messages
from app.db.models import Conversation, User
from app.db.session import Database, UnitOfWork
from app.migrations import alembic_config, upgrade_to_head
from app.services.search_index import SearchIndexer
from tests.fixtures.database import (
    APP_TABLES,
    inspect_schema,
)

T = TypeVar("T")

# The messages table as migration 0001 made it (the columns these tests write).
EARLIEST_MESSAGES = table(
    "messages",
    column("id", Uuid),
    column("conversation_id", Uuid),
    column("user_id", Uuid),
    column("role", String),
    column("content", Text),
    column("status", String),
    column("created_at", UTCDateTime),
)


def test_upgrade_downgrade_upgrade_round_trip(empty_database: str) -> None:
    config = alembic_config(empty_database)
    upgrade_to_head(empty_database)
    tables, _ = inspect_schema(empty_database)
    assert APP_TABLES <= tables

    command.downgrade(config, "base")
    tables, _ = inspect_schema(empty_database)
    assert tables <= {"alembic_version"}

    upgrade_to_head(empty_database)
    tables, differences = inspect_schema(empty_database)
    assert APP_TABLES <= tables
    assert differences == []


def test_migrated_schema_matches_the_models(empty_database: str) -> None:
    upgrade_to_head(empty_database)
    tables, differences = inspect_schema(empty_database)
    assert tables == APP_TABLES | {"alembic_version"}
    assert differences == [], "run `alembic revision --autogenerate`: the models changed"


def test_migrations_have_a_single_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    assert len(script.get_heads()) == 1


def _store_a_conversation(url: str, user_id: uuid.UUID, texts: list[str]) -> None:
    """Rows as an earlier version wrote them: a user, a conversation, its messages (only the
    columns every schema version has: the models' newer columns are not there yet)."""

    def write(session: Session) -> None:
        now = utcnow()
        session.add(User(id=user_id, email=f"{user_id}@example.com", hashed_password="x"))
        session.flush()  # no relationships: the unit of work does not order the tables
        conversation = Conversation(user_id=user_id, kind="chat", title="Old", updated_at=now)
        session.add(conversation)
        session.flush()
        for i, content in enumerate(texts):
            session.execute(
                insert(EARLIEST_MESSAGES).values(
                    id=uuid.uuid4(),
                    conversation_id=conversation.id,
                    user_id=user_id,
                    role="user" if i % 2 == 0 else "assistant",
                    content=content,
                    status="complete",
                    created_at=now + timedelta(seconds=i),
                )
            )

    asyncio.run(_run(url, write))


async def _run(url: str, work: UnitOfWork[T]) -> T:
    database = Database.from_url(url, poolclass=NullPool)
    try:
        return await database.run(work)
    finally:
        await database.dispose()


def _search(url: str, user_id: uuid.UUID, query: str) -> list[str]:
    hits = asyncio.run(
        _run(url, lambda session: search_messages(session, user_id, query, limit=10))
    )
    return [hit.snippet for hit in hits]


def test_the_search_migration_indexes_the_messages_already_stored(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0003")
    user_id = uuid.uuid4()
    _store_a_conversation(
        empty_database, user_id, ["Where is the lighthouse?", "The lighthouse is north."]
    )

    upgrade_to_head(empty_database)
    assert _search(empty_database, user_id, "lighthouse") == [
        "The lighthouse is north.",
        "Where is the lighthouse?",
    ]
    # New and changed rows are indexed too (the triggers on SQLite, the index on PostgreSQL).
    _store_a_conversation(empty_database, uuid.uuid4(), ["A lighthouse keeper's log"])
    assert len(_search(empty_database, user_id, "lighthouse")) == 2
    assert _search(empty_database, user_id, "keeper") == []

    command.downgrade(config, "0003")
    upgrade_to_head(empty_database)
    assert len(_search(empty_database, user_id, "north")) == 1


def test_the_search_index_is_written_in_batches_and_misses_nothing(empty_database: str) -> None:
    upgrade_to_head(empty_database)
    sqlite = empty_database.startswith("sqlite")
    user_id = uuid.uuid4()
    _store_a_conversation(empty_database, user_id, ["Where is the harbour?", "North of the bay."])
    # SQLite: stored, noted (migration 0008), and indexed only by the next batch...
    assert _sqlite_index(empty_database) == []
    assert _noted(empty_database) == (2 if sqlite else 0)
    # ...which a search runs first, in its own transaction: it finds what was stored before it.
    assert _search(empty_database, user_id, "harbour") == ["Where is the harbour?"]
    assert _noted(empty_database) == 0
    if sqlite:
        assert _sqlite_index(empty_database) == ["North of the bay.", "Where is the harbour?"]

    # The background task indexes what is noted without a search.
    other = uuid.uuid4()
    _store_a_conversation(empty_database, other, ["A harbour with a lighthouse"])
    asyncio.run(_index_in_the_background(empty_database))
    assert _noted(empty_database) == 0
    if sqlite:
        assert "A harbour with a lighthouse" in _sqlite_index(empty_database)
    assert _search(empty_database, other, "lighthouse") == ["A harbour with a lighthouse"]
    assert _search(empty_database, user_id, "lighthouse") == []

    # Down to 0007 (the noted rows indexed first), and up again.
    _store_a_conversation(empty_database, uuid.uuid4(), ["Noted before the downgrade"])
    command.downgrade(alembic_config(empty_database), "0007")
    if sqlite:
        assert "Noted before the downgrade" in _sqlite_index(empty_database)
    upgrade_to_head(empty_database)


def _noted(url: str) -> int:
    if not url.startswith("sqlite"):
        return 0
    statement = text("SELECT count(*) FROM messages_fts_pending")
    return int(asyncio.run(_run(url, lambda s: s.execute(statement).scalar_one())))


async def _index_in_the_background(url: str) -> None:
    database = Database.from_url(url, poolclass=NullPool)
    indexer = SearchIndexer(database, interval_s=0.01)
    indexer.start()
    noted = text("SELECT count(*) FROM messages_fts_pending")
    try:
        for _ in range(200):  # until it has run (at most 10 s on a busy machine)
            await asyncio.sleep(0.05)
            if not database.is_sqlite or not await database.run(
                lambda s: s.execute(noted).scalar_one()
            ):
                break
    finally:
        await indexer.close()
        await database.dispose()


def _set_the_answer(url: str, user_id: uuid.UUID, content: str, status: str) -> None:
    """What a checkpoint (streaming), an interruption or a Continue writes to the answer."""
    statement = text(
        "UPDATE messages SET content = :content, status = :status "
        "WHERE user_id = :user_id AND role = 'assistant'"
    ).bindparams(bindparam("user_id", type_=Uuid()))
    asyncio.run(
        _run(
            url,
            lambda session: session.execute(
                statement, {"content": content, "status": status, "user_id": user_id}
            ),
        )
    )


def _sqlite_index(url: str) -> list[str]:
    """The texts SQLite's search index holds (on PostgreSQL the index is every row's)."""
    if not url.startswith("sqlite"):
        return []
    rows = asyncio.run(
        _run(url, lambda s: s.execute(text("SELECT content FROM messages_fts")).scalars().all())
    )
    return sorted(rows)


def test_an_answer_is_searched_once_it_settles_and_never_indexed_while_streaming(
    empty_database: str,
) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0006")
    user_id = uuid.uuid4()
    _store_a_conversation(empty_database, user_id, ["Where do ships go?", ""])
    _set_the_answer(empty_database, user_id, "Ships follow the", "streaming")

    upgrade_to_head(empty_database)  # 0007: the partial text leaves the index
    sqlite = empty_database.startswith("sqlite")
    assert _sqlite_index(empty_database) == (["Where do ships go?"] if sqlite else [])
    _set_the_answer(empty_database, user_id, "Ships follow the lighthouse", "streaming")
    assert _search(empty_database, user_id, "lighthouse") == []
    assert "Ships follow the lighthouse" not in _sqlite_index(empty_database)

    # Interrupted (a crash): the text the checkpoint kept is found, without a content change.
    _set_the_answer(empty_database, user_id, "Ships follow the lighthouse", "interrupted")
    assert _search(empty_database, user_id, "lighthouse") == ["Ships follow the lighthouse"]

    # Reopened by a Continue: not searched while it streams again, found with its new end.
    _set_the_answer(empty_database, user_id, "Ships follow the lighthouse north", "streaming")
    assert _search(empty_database, user_id, "north") == []
    assert _search(empty_database, user_id, "lighthouse") == []
    _set_the_answer(empty_database, user_id, "Ships follow the lighthouse north.", "complete")
    assert _search(empty_database, user_id, "north") == ["Ships follow the lighthouse north."]

    # Down to 0006: every update re-indexes again, and an answer streaming is indexed as it is.
    _set_the_answer(empty_database, user_id, "Ships follow the stars", "streaming")
    command.downgrade(config, "0006")
    if sqlite:
        assert "Ships follow the stars" in _sqlite_index(empty_database)
    upgrade_to_head(empty_database)
    assert "Ships follow the stars" not in _sqlite_index(empty_database)
