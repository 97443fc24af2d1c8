"""app/db/core_execute on a SQLite file: the prepared path stores and reads what the full one does.

Each hot-path write is made twice on a real SQLite file, once on the driver's own call (the
prepared path) and once through SQLAlchemy's execution (forced by a listener on the
connection, as a test that watches statements would): the rows must be the same byte for byte.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import core_execute
from app.db.base import Base
from app.db.crud import conversations, messages, onboarding, users
from app.db.models import ConversationKind, Message, MessageStatus, User
from app.db.session import Database, SQLiteFileDatabase
from app.schemas.chat import MessageRead

NOW = datetime(2026, 12, 4, 19, 30, 5, 123456, tzinfo=UTC)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'core.db'}")
    assert isinstance(db, SQLiteFileDatabase)
    await db.run(lambda s: Base.metadata.create_all(s.connection()))
    yield db
    await db.dispose()


@contextmanager
def _full_path(session: Session) -> Iterator[None]:
    """Statements on this unit's connection go through SQLAlchemy's own execution."""
    connection = session.connection()

    def watching(*_: Any) -> None:
        pass

    event.listen(connection, "before_execute", watching)
    try:
        yield
    finally:
        event.remove(connection, "before_execute", watching)


def _rows(path: Path, table: str, where: str = "1") -> list[tuple[Any, ...]]:
    """What SQLite holds, untouched by any type processing, the row id left out."""
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY 1").fetchall()  # noqa: S608


def _user(session: Session) -> uuid.UUID:
    user = users.add_user(
        session, email=f"{uuid.uuid4().hex}@example.com", hashed_password="x", display_name="Ada"
    )
    onboarding.add_state(session, user.id, NOW, answers={"role": "engineer", "tone": "brief"})
    return user.id


def _turn(session: Session, user_id: uuid.UUID, tag: str) -> tuple[Message, Message]:
    conversation_id = conversations.start_conversation(
        session, user_id, ConversationKind.CHAT, f"Title {tag}"
    )
    conversations.touch_conversation(session, conversation_id, NOW + timedelta(seconds=1))
    return messages.add_turn(
        session,
        conversation_id=conversation_id,
        user_id=user_id,
        content=f"Question {tag} é ✓",
        client_message_id=f"cmid-{tag}",
        model="scripted",
        now=NOW,
    )


def _settle(session: Session, answer: Message) -> None:
    messages.checkpoint_answers(
        session,
        [{"answer_id": answer.id, "content": "Part", "chunk_count": 1, "chunk_ends": [4]}],
    )
    answer.content = "Partial answer"
    answer.status = MessageStatus.COMPLETE
    answer.chunk_count = 2
    answer.chunk_ends = [7, 14]
    answer.completed_at = NOW + timedelta(seconds=2)
    assert messages.save_answer(session, messages.columns_of(answer))


def _write(session: Session, *, full: bool) -> dict[str, str]:
    """A user's two turns, one answer settled and one streaming; its own ids -> common names."""
    user_id = _user(session)
    with _full_path(session) if full else nullcontext():
        question, answer = _turn(session, user_id, "a")
        _settle(session, answer)
        second, streaming = _turn(session, user_id, "b")
    return {
        user_id.hex: "user",
        question.id.hex: "question",
        answer.id.hex: "answer",
        question.conversation_id.hex: "conversation",
        second.id.hex: "second",
        streaming.id.hex: "streaming",
        second.conversation_id.hex: "conversation2",
    }


def _normalised(rows: list[tuple[Any, ...]], names: dict[str, str]) -> list[tuple[Any, ...]]:
    out = []
    for row in rows:
        values = []
        for value in row:
            if isinstance(value, str):
                value = names.get(value, value)
            values.append(value)
        out.append(tuple(values))
    return sorted(out, key=repr)


async def test_the_prepared_path_stores_what_the_full_path_stores(
    database: Database, tmp_path: Path
) -> None:
    prepared = await database.run(lambda s: _write(s, full=False))
    full = await database.run(lambda s: _write(s, full=True))
    by_path = {}
    for label, names in (("prepared", prepared), ("full", full)):
        user = next(own for own, name in names.items() if name == "user")
        rows = {
            table: _normalised(_rows(tmp_path / "core.db", table, f"user_id = '{user}'"), names)
            for table in ("messages", "conversations")
        }
        # A conversation's created_at is the clock's at its insert: the same shape is enough.
        rows["conversations"] = [
            row[:4] + (len(row[4]),) + row[5:] for row in rows["conversations"]
        ]
        by_path[label] = rows
    assert by_path["prepared"] == by_path["full"]
    assert len(by_path["prepared"]["messages"]) == 4
    assert len(by_path["prepared"]["conversations"]) == 2
    assert core_execute._PREPARED  # noqa: SLF001 - the prepared path was the one taken


async def test_the_prepared_path_reads_what_the_full_path_reads(database: Database) -> None:
    def read(session: Session, user_id: uuid.UUID, *, full: bool) -> list[object]:
        with _full_path(session) if full else nullcontext():
            return [
                users.get_auth_user(session, user_id),
                messages.get_by_client_message_id(session, user_id, "cmid-a"),
                messages.get_by_client_message_id(session, user_id, "cmid-none"),
                onboarding.get_answers(session, user_id),
            ]

    def write(session: Session) -> uuid.UUID:
        user_id = _user(session)
        _turn(session, user_id, "a")
        return user_id

    user_id = await database.run(write)
    prepared = await database.run(lambda s: read(s, user_id, full=False))
    full = await database.run(lambda s: read(s, user_id, full=True))
    assert prepared[0] == full[0] and prepared[0] is not None
    assert prepared[0].created_at.tzinfo is UTC  # type: ignore[attr-defined]
    assert isinstance(prepared[1], Message) and isinstance(full[1], Message)
    assert prepared[1].id == full[1].id
    assert prepared[2] is None and full[2] is None
    assert prepared[3] == full[3] == {"role": "engineer", "tone": "brief"}


async def test_a_duplicate_on_the_prepared_path_is_sqlalchemys_integrity_error(
    database: Database,
) -> None:
    def twice(session: Session) -> None:
        user_id = _user(session)
        _turn(session, user_id, "a")
        _turn(session, user_id, "a")  # the same client_message_id

    with pytest.raises(IntegrityError):
        await database.run(twice)


async def test_a_turns_messages_hold_what_was_written(database: Database) -> None:
    """add_turn returns its messages filled as the ORM fills loaded ones: each holds exactly
    the row it wrote, and reads as the API's MessageRead does."""

    def write(session: Session) -> tuple[Message, Message]:
        return _turn(session, _user(session), "a")

    def read(session: Session, ids: list[uuid.UUID]) -> list[dict[str, object]]:
        return [messages.columns_of(session.get(Message, i)) for i in ids]  # type: ignore[arg-type]

    written = await database.run(write)
    stored = await database.run(lambda s: read(s, [m.id for m in written]))
    assert [messages.columns_of(m) for m in written] == stored
    question, answer = written
    assert (question.status, answer.status) == (MessageStatus.COMPLETE, MessageStatus.STREAMING)
    assert answer.reply_to_id == question.id and answer.created_at > question.created_at
    assert MessageRead.model_validate(answer).content == ""


async def test_objects_a_unit_adds_without_flushing_are_written_at_its_end(
    database: Database,
) -> None:
    def add(session: Session) -> uuid.UUID:
        user = User(email=f"{uuid.uuid4().hex}@example.com", hashed_password="x")
        user.id = uuid.uuid4()
        session.add(user)  # not flushed: the unit's end writes it
        return user.id

    user_id = await database.run(add)
    assert await database.run(lambda s: users.get_auth_user(s, user_id)) is not None
