"""Migration 0006 (message versions) on SQLite and PostgreSQL: stored messages become the chosen
versions, and going back removes the other versions while search keeps indexing new messages."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alembic import command
from app.db.base import utcnow
from app.db.crud.search import search_messages
from app.db.models import Conversation, Message, User
from app.migrations import alembic_config, upgrade_to_head
from tests.fixtures.migrations import run_on
from tests.integration.test_migrations import EARLIEST_MESSAGES


def _account(url: str) -> tuple[uuid.UUID, uuid.UUID]:
    user_id = uuid.uuid4()

    def write(session: Session) -> uuid.UUID:
        session.add(User(id=user_id, email=f"{user_id}@example.com", hashed_password="x"))
        session.flush()
        conversation = Conversation(user_id=user_id, kind="chat", title="Old")
        session.add(conversation)
        session.flush()
        return conversation.id

    return user_id, run_on(url, write)


def _message(
    url: str, user_id: uuid.UUID, conversation_id: uuid.UUID, role: str, content: str, n: int
) -> uuid.UUID:
    """A message row with only the columns every schema version has."""
    message_id = uuid.uuid4()
    run_on(
        url,
        lambda session: session.execute(
            EARLIEST_MESSAGES.insert().values(
                id=message_id,
                conversation_id=conversation_id,
                user_id=user_id,
                role=role,
                content=content,
                status="complete",
                created_at=utcnow() + timedelta(seconds=n),
            )
        ),
    )
    return message_id


def _search(url: str, user_id: uuid.UUID, query: str) -> list[str]:
    hits = run_on(url, lambda session: search_messages(session, user_id, query, limit=10))
    return [hit.snippet for hit in hits]


def _ids(url: str) -> list[uuid.UUID]:
    rows = run_on(url, lambda session: session.execute(select(EARLIEST_MESSAGES.c.id)).all())
    return [row[0] for row in rows]


def test_stored_messages_become_chosen_and_going_back_keeps_one_version(
    empty_database: str,
) -> None:
    url = empty_database
    config = alembic_config(url)
    command.upgrade(config, "0005")
    user_id, conversation_id = _account(url)
    question = _message(url, user_id, conversation_id, "user", "Where is the harbour?", 0)

    upgrade_to_head(url)
    rows = run_on(url, lambda s: s.execute(select(Message.chosen, Message.version_of_id)).all())
    assert [tuple(row) for row in rows] == [(True, None)]

    # A hidden version of the question, as an edit leaves it.
    hidden = _message(url, user_id, conversation_id, "user", "Where is the lighthouse?", 1)
    run_on(
        url,
        lambda s: s.execute(update(Message).where(Message.id == hidden).values(chosen=False)),
    )
    assert _search(url, user_id, "where") == ["Where is the harbour?"]  # only what is shown

    command.downgrade(config, "0005")
    assert _ids(url) == [question]
    # A message stored meanwhile is indexed (SQLite: the triggers outlived the change; nothing
    # re-indexes on the way up again).
    _message(url, user_id, conversation_id, "assistant", "By the lighthouse.", 2)

    upgrade_to_head(url)
    assert _search(url, user_id, "lighthouse") == ["By the lighthouse."]
    assert len(_search(url, user_id, "harbour")) == 1
