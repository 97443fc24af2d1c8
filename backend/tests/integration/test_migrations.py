"""Alembic: up, down and up again on SQLite and PostgreSQL; the result matches the models;
the search index covers messages stored before it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import String, Text, Uuid, column, insert, table
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from alembic import command
from app.db.base import UTCDateTime, utcnow
from app.db.crud.search import search_messages
from app.db.models import Conversation, User
from app.db.session import Database, UnitOfWork
from app.migrations import alembic_config, upgrade_to_head
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
