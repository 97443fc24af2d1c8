"""Queries on conversations, always scoped to their owner."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from app.db.base import utcnow
from app.db.core_execute import execute_core
from app.db.crud.paging import newest_page
from app.db.models import Conversation, ConversationKind, Message, MessageStatus


def get_owned_conversation(
    session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> Conversation | None:
    """The conversation if it exists and is the user's; None otherwise (never reveal which)."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.user_id != user_id:
        return None
    return conversation


def get_onboarding_conversation(session: Session, user_id: uuid.UUID) -> Conversation | None:
    result = session.execute(
        select(Conversation)
        .where(Conversation.user_id == user_id, Conversation.kind == ConversationKind.ONBOARDING)
        .order_by(Conversation.created_at)
        .limit(1)
    )
    return result.scalar_one_or_none()


# The table, not the mapped class: an INSERT on the class takes the ORM's bulk path. Built once,
# with bound parameters (see messages.py).
CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]
_INSERT_CONVERSATION = insert(CONVERSATIONS)
_TOUCH_CONVERSATION = update(CONVERSATIONS).where(
    CONVERSATIONS.c.id == bindparam("conversation_id")
)


def start_conversation(
    session: Session, user_id: uuid.UUID, kind: ConversationKind, title: str | None
) -> uuid.UUID:
    """A new conversation, inserted at once with a Core INSERT (the hot path of a first turn)."""
    now = utcnow()
    conversation_id = uuid.uuid4()
    execute_core(
        session,
        _INSERT_CONVERSATION,
        {
            "id": conversation_id,
            "user_id": user_id,
            "kind": kind,
            "title": title,
            "created_at": now,
            "updated_at": now,
        },
    )
    return conversation_id


def touch_conversation(session: Session, conversation_id: uuid.UUID, now: datetime) -> None:
    execute_core(
        session, _TOUCH_CONVERSATION, {"conversation_id": conversation_id, "updated_at": now}
    )


def list_conversations(
    session: Session,
    user_id: uuid.UUID,
    kind: ConversationKind | None,
    *,
    before: Conversation | None,
    limit: int,
) -> tuple[Sequence[Conversation], bool]:
    """One page of the user's conversations, newest activity first, starting just after
    `before` in that order (its activity older), or at the newest; and whether more follow."""
    query = select(Conversation).where(Conversation.user_id == user_id)
    if kind is not None:
        query = query.where(Conversation.kind == kind)
    return newest_page(
        session,
        query,
        Conversation.updated_at,
        Conversation.id,
        after=(before.updated_at, before.id) if before is not None else None,
        limit=limit,
    )


def streaming_answer_ids(session: Session, conversation_id: uuid.UUID) -> list[uuid.UUID]:
    """The conversation's answers still being written."""
    result = session.execute(
        select(Message.id).where(
            Message.conversation_id == conversation_id,
            Message.status == MessageStatus.STREAMING,
        )
    )
    return list(result.scalars().all())


def delete_conversation(session: Session, conversation_id: uuid.UUID) -> None:
    """The conversation and its messages (deleted first: a message's answer refers to its
    question, and the search index's triggers see each row go)."""
    session.execute(delete(Message).where(Message.conversation_id == conversation_id))
    session.execute(delete(Conversation).where(Conversation.id == conversation_id))


# Markdown that reads as noise in a title: fenced code (kept only if it is all there is), the
# markers that start a heading, quote or list item, strong emphasis, inline code, link targets.
_FENCED_CODE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.S | re.M)
_FENCE_LINE = re.compile(r"^[ \t]*(```|~~~)[^\n]*$", re.M)
_LINE_MARKER = re.compile(
    r"^[ \t]{0,3}(?:#{1,6}[ \t]+|>[ \t]?|[-*+][ \t]+|\d{1,3}[.)][ \t]+)", re.M
)
_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*\)")
_EMPHASIS = re.compile(r"\*\*|__|`")


def _plain_text(text: str) -> str:
    prose = _FENCED_CODE.sub(" ", text)
    if not prose.strip():  # only code: its text, without the fences
        prose = _FENCE_LINE.sub(" ", text)
    prose = _LINE_MARKER.sub("", prose)
    prose = _LINK.sub(r"\1", prose)
    return _EMPHASIS.sub("", prose)


def title_from_message(text: str, limit: int = 60) -> str:
    """A conversation title from its first message: its words without markdown or fenced code,
    on one line, cut at a word boundary."""
    line = " ".join(_plain_text(text).split()) or " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0] or line[:limit]
    return cut + "…"
