"""Queries and writes on messages: a turn, an answer's final save, history, pages, look-ups."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from app.db.core_execute import execute_core
from app.db.crud.paging import newest_page
from app.db.models import Message, MessageStatus, Role


def get_message(session: Session, message_id: uuid.UUID) -> Message | None:
    return session.get(Message, message_id)


def get_by_client_message_id(
    session: Session, user_id: uuid.UUID, client_message_id: str
) -> Message | None:
    # Asked on every send and nearly always a miss: a Core query, and the ORM loads only a hit.
    found = execute_core(
        session,
        _ID_BY_CLIENT_MESSAGE_ID,
        {"user_id": user_id, "client_message_id": client_message_id},
    ).scalar_one_or_none()
    return None if found is None else session.get(Message, found)


def get_reply(session: Session, user_message_id: uuid.UUID) -> Message | None:
    """The answer to a user message: its chosen version (the newest, should none be)."""
    result = session.execute(
        select(Message)
        .where(Message.reply_to_id == user_message_id)
        .order_by(Message.chosen.desc(), Message.created_at.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


def _empty_answer(
    answer_id: uuid.UUID,
    *,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    question_id: uuid.UUID,
    asked_at: datetime,
    model: str,
) -> dict[str, object]:
    """The row of the assistant message that will receive the answer to a question, as it
    starts."""
    return {
        **_NEW_ROW,
        "id": answer_id,
        "conversation_id": conversation_id,
        "user_id": user_id,
        "role": Role.ASSISTANT,
        "content": "",
        "status": MessageStatus.STREAMING,
        "reply_to_id": question_id,
        "model": model,
        # Strictly after the question, so ordering by time never puts an answer first.
        "created_at": asked_at + timedelta(microseconds=1),
    }


def add_turn(
    session: Session,
    *,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    content: str,
    client_message_id: str,
    model: str,
    now: datetime,
    assistant_id: uuid.UUID | None = None,
    version_of_id: uuid.UUID | None = None,
) -> tuple[Message, Message]:
    """The user message and an empty assistant message that will receive the answer.

    Both rows go in one Core INSERT (a turn is the hottest write there is: the ORM's unit of
    work costs several times the statement); the returned objects are transient copies.
    """
    question_id = uuid.uuid4()
    question = {
        **_NEW_ROW,
        "id": question_id,
        "conversation_id": conversation_id,
        "user_id": user_id,
        "role": Role.USER,
        "content": content,
        "status": MessageStatus.COMPLETE,
        "client_message_id": client_message_id,
        "version_of_id": version_of_id,
        "created_at": now,
        "completed_at": now,
    }
    answer = _empty_answer(
        assistant_id or uuid.uuid4(),
        conversation_id=conversation_id,
        user_id=user_id,
        question_id=question_id,
        asked_at=now,
        model=model,
    )
    # The question first: the answer's reply_to_id refers to it.
    execute_core(session, _INSERT_MESSAGES, [question, answer])
    return _as_written(question), _as_written(answer)


# The table, not the mapped class: an INSERT on the class takes the ORM's bulk path. The
# statements of every send are built once, with bound parameters: building one and computing
# its cache key costs more than SQLite takes to run it.
MESSAGES: Table = Message.__table__  # type: ignore[assignment]
_MESSAGE_COLUMNS = tuple(column.key for column in MESSAGES.columns)
_INSERT_MESSAGES = insert(MESSAGES)
_ID_BY_CLIENT_MESSAGE_ID = select(MESSAGES.c.id).where(
    MESSAGES.c.user_id == bindparam("user_id"),
    MESSAGES.c.client_message_id == bindparam("client_message_id"),
)


# SET takes the parameters' other keys (the columns named in the values), as in an executemany.
_UPDATE_ANSWER = update(MESSAGES).where(MESSAGES.c.id == bindparam("answer_id"))


# A new row: every column (the rows of one executemany share their keys), with the defaults of
# the NOT NULL columns that have one.
_NEW_ROW: dict[str, object] = {
    **dict.fromkeys(_MESSAGE_COLUMNS),
    "stream_offset": 0,
    "chosen": True,
}
_new_message = Message.__mapper__.class_manager.new_instance


def _as_written(row: Mapping[str, object]) -> Message:
    """A transient Message holding the values a statement just wrote.

    Its attributes are filled as the ORM fills an object it loads (in the instance's dict), not
    through the attribute events of the constructor, which cost more than the INSERT's Python.
    It is read only, never added to a session: a session would see no change in it to write.
    """
    message: Message = _new_message()
    message.__dict__.update(row)
    return message


def columns_of(message: Message) -> dict[str, object]:
    """A message's every column, as a new row holds them."""
    row = {key: getattr(message, key) for key in _MESSAGE_COLUMNS}
    for key in ("stream_offset", "chosen"):  # defaults a transient Message has not applied
        if row[key] is None:
            row[key] = _NEW_ROW[key]
    return row


def add_complete_answer(
    session: Session,
    *,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    content: str,
    model: str,
    now: datetime,
) -> None:
    """An assistant message written whole, not generated (the onboarding greeting)."""
    answer = Message(
        id=uuid.uuid4(),
        conversation_id=conversation_id,
        user_id=user_id,
        role=Role.ASSISTANT,
        content=content,
        status=MessageStatus.COMPLETE,
        model=model,
        chunk_count=1,
        created_at=now,
        completed_at=now,
    )
    execute_core(session, _INSERT_MESSAGES, [columns_of(answer)])


def replace_answer(
    session: Session,
    *,
    failed_id: uuid.UUID,
    question: Message,
    answer_id: uuid.UUID,
    model: str,
    replaceable: Iterable[MessageStatus],
) -> Message | None:
    """A new empty answer to `question` in place of the failed answer `failed_id`; None if that
    is no longer there with a `replaceable` status (a concurrent retry replaced it first)."""
    deleted = session.execute(
        delete(MESSAGES).where(MESSAGES.c.id == failed_id, MESSAGES.c.status.in_(replaceable))
    )
    if not getattr(deleted, "rowcount", 0):
        return None
    answer = _empty_answer(
        answer_id,
        conversation_id=question.conversation_id,
        user_id=question.user_id,
        question_id=question.id,
        asked_at=question.created_at,
        model=model,
    )
    execute_core(session, _INSERT_MESSAGES, [answer])
    return _as_written(answer)


ANSWER_FIELDS = (
    "content",
    "status",
    "error_code",
    "model",
    "chunk_count",
    "chunk_ends",
    "ttft_ms",
    "duration_ms",
    "completed_at",
)


def save_answer(session: Session, answer: Mapping[str, Any]) -> bool:
    """Write a finished answer by id: an UPDATE of the row, or an INSERT if it is gone.

    `answer` holds its columns: `id` and ANSWER_FIELDS, and for the INSERT those a new row
    needs (conversation_id, user_id, role, reply_to_id, created_at).
    Idempotent, so a retried save (the Celery worker) writes the same row again. The row is
    gone only if its turn was never committed or was replaced; the INSERT then restores it.
    """
    values = {key: answer[key] for key in ANSWER_FIELDS}
    result = execute_core(session, _UPDATE_ANSWER, {"answer_id": answer["id"], **values})
    if not result.rowcount:
        execute_core(session, _INSERT_MESSAGES, [{**_NEW_ROW, **answer}])
    return True


_UPDATE_UNFINISHED_ANSWER = update(MESSAGES).where(
    MESSAGES.c.id == bindparam("answer_id"), MESSAGES.c.status == MessageStatus.STREAMING
)


def save_unfinished_answer(session: Session, answer: Mapping[str, Any]) -> bool:
    """Write a finished answer over its row only if that is still `streaming`: False if not."""
    values = {key: answer[key] for key in ANSWER_FIELDS}
    result = execute_core(session, _UPDATE_UNFINISHED_ANSWER, {"answer_id": answer["id"], **values})
    return bool(result.rowcount)


# SET content, chunk_count, chunk_ends (executemany: one statement for every open answer).
_CHECKPOINT_ANSWER = update(MESSAGES).where(
    MESSAGES.c.id == bindparam("answer_id"), MESSAGES.c.status == MessageStatus.STREAMING
)


def checkpoint_answers(session: Session, partials: Sequence[dict[str, object]]) -> None:
    """The text so far of answers in flight (`answer_id`, `content`, `chunk_count`,
    `chunk_ends` each), so a crash loses at most one checkpoint interval of any of them."""
    execute_core(session, _CHECKPOINT_ANSWER, list(partials))


def reopen_answer(
    session: Session, answer_id: uuid.UUID, continuable: Iterable[MessageStatus]
) -> bool:
    """An interrupted or cancelled answer is generated again from where it stopped: `streaming`,
    its event ids moved past the last run's. False if it was not continuable (any more)."""
    result = session.execute(
        update(MESSAGES)
        .where(MESSAGES.c.id == answer_id, MESSAGES.c.status.in_(continuable))
        .values(
            status=MessageStatus.STREAMING,
            error_code=None,
            completed_at=None,
            stream_offset=MESSAGES.c.stream_offset + 2,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def interrupt_answer(session: Session, answer_id: uuid.UUID, now: datetime) -> None:
    """One answer left `streaming` with nobody writing it becomes `interrupted`."""
    session.execute(
        update(MESSAGES)
        .where(MESSAGES.c.id == answer_id, MESSAGES.c.status == MessageStatus.STREAMING)
        .values(status=MessageStatus.INTERRUPTED, error_code="interrupted", completed_at=now)
    )


def unfinished_answer_ids(session: Session, limit: int) -> list[uuid.UUID]:
    """Answers still `streaming`, oldest first."""
    result = session.execute(
        select(MESSAGES.c.id)
        .where(MESSAGES.c.status == MessageStatus.STREAMING)
        .order_by(MESSAGES.c.created_at)
        .limit(limit)
    )
    return list(result.scalars().all())


def interrupt_unfinished_answers(session: Session, now: datetime) -> int:
    """Every answer still `streaming` becomes `interrupted` (its process is gone)."""
    result = session.execute(
        update(MESSAGES)
        .where(MESSAGES.c.status == MessageStatus.STREAMING)
        .values(status=MessageStatus.INTERRUPTED, error_code="interrupted", completed_at=now)
    )
    return int(getattr(result, "rowcount", 0))


_QUESTION = aliased(Message)


def _shown(query: Select[Message]) -> Select[Message]:
    """Only the messages a conversation shows: the chosen version of each, and answers only to
    a chosen question (an edited question's earlier version hides its answers with it)."""
    return query.outerjoin(_QUESTION, Message.reply_to_id == _QUESTION.id).where(
        Message.chosen.is_(True), or_(_QUESTION.id.is_(None), _QUESTION.chosen.is_(True))
    )


def recent_history(
    session: Session, conversation_id: uuid.UUID, *, before: datetime, limit: int = 40
) -> list[Message]:
    """The latest messages before a point in time, oldest first, that carry text."""
    result = session.execute(
        _shown(select(Message))
        .where(
            Message.conversation_id == conversation_id,
            Message.created_at < before,
            Message.content != "",
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    )
    return list(reversed(result.scalars().all()))


def page_messages(
    session: Session,
    conversation_id: uuid.UUID,
    *,
    before: Message | None,
    limit: int,
) -> tuple[Sequence[Message], bool]:
    """One page of a conversation, oldest first, ending just before `before` (or at the end)."""
    query = _shown(select(Message)).where(Message.conversation_id == conversation_id)
    rows, has_more = newest_page(
        session,
        query,
        Message.created_at,
        Message.id,
        after=(before.created_at, before.id) if before is not None else None,
        limit=limit,
    )
    return list(reversed(rows)), has_more
