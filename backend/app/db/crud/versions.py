"""Versions of a message: regenerated answers (replies to one question) and edited questions
(user messages naming the first of their group in `version_of_id`); which one is chosen."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Table, or_, select, update
from sqlalchemy.orm import Session

from app.db.models import Message, MessageStatus, Role

MESSAGES: Table = Message.__table__  # type: ignore[assignment]


def group_root(message: Message) -> uuid.UUID:
    """The first version of a user message's group (its own id when it was never edited)."""
    return message.version_of_id or message.id


def lock_message(session: Session, message_id: uuid.UUID) -> Message | None:
    """The message, its row locked until the transaction ends (PostgreSQL; SQLite has one
    writer): two regenerates or edits of one exchange never both pass their checks."""
    return session.get(Message, message_id, with_for_update=True, populate_existing=True)


def latest_question(session: Session, conversation_id: uuid.UUID) -> Message | None:
    """The newest shown user message of a conversation: its exchange is the latest one."""
    result = session.execute(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.role == Role.USER,
            Message.chosen.is_(True),
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


def choose_answer(session: Session, question_id: uuid.UUID, answer_id: uuid.UUID) -> None:
    """`answer_id` becomes the chosen reply to `question_id`; the other replies are kept."""
    session.execute(
        update(MESSAGES)
        .where(MESSAGES.c.reply_to_id == question_id, MESSAGES.c.role == Role.ASSISTANT)
        .values(chosen=MESSAGES.c.id == answer_id)
    )


def choose_question(session: Session, root_id: uuid.UUID, message_id: uuid.UUID) -> None:
    """`message_id` becomes the chosen version of the user message group `root_id`."""
    session.execute(
        update(MESSAGES)
        .where(
            or_(MESSAGES.c.id == root_id, MESSAGES.c.version_of_id == root_id),
            MESSAGES.c.role == Role.USER,
        )
        .values(chosen=MESSAGES.c.id == message_id)
    )


def new_answer(
    question: Message, *, answer_id: uuid.UUID, model: str, client_message_id: str, now: datetime
) -> Message:
    """Another reply to `question`, empty as it starts. Created now (after every earlier
    version, so versions sort by time) and carrying the request's client_message_id, which
    makes the regenerate idempotent."""
    return Message(
        id=answer_id,
        conversation_id=question.conversation_id,
        user_id=question.user_id,
        role=Role.ASSISTANT,
        content="",
        status=MessageStatus.STREAMING,
        reply_to_id=question.id,
        client_message_id=client_message_id,
        model=model,
        chosen=True,
        stream_offset=0,
        created_at=now,
    )


def version_ids(session: Session, messages: Iterable[Message]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """For each message, the ids of every version of it, oldest first (itself included)."""
    messages = list(messages)
    question_ids = {m.reply_to_id for m in messages if m.role == Role.ASSISTANT and m.reply_to_id}
    roots = {group_root(m) for m in messages if m.role == Role.USER}
    answers: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if question_ids:
        rows = session.execute(
            select(MESSAGES.c.id, MESSAGES.c.reply_to_id)
            .where(MESSAGES.c.reply_to_id.in_(question_ids), MESSAGES.c.role == Role.ASSISTANT)
            .order_by(MESSAGES.c.created_at, MESSAGES.c.id)
        )
        for answer_id, question_id in rows:
            answers[question_id].append(answer_id)
    groups: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if roots:
        rows = session.execute(
            select(MESSAGES.c.id, MESSAGES.c.version_of_id)
            .where(
                or_(MESSAGES.c.id.in_(roots), MESSAGES.c.version_of_id.in_(roots)),
                MESSAGES.c.role == Role.USER,
            )
            .order_by(MESSAGES.c.created_at, MESSAGES.c.id)
        )
        for message_id, root_id in rows:
            groups[root_id or message_id].append(message_id)
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    for m in messages:
        ids = answers.get(m.reply_to_id) if m.role == Role.ASSISTANT and m.reply_to_id else None
        if m.role == Role.USER:
            ids = groups.get(group_root(m))
        found[m.id] = ids or [m.id]
    return found
