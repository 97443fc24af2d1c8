"""The tables of DESIGN.md §4: users, conversations, messages, onboarding_states, and the
refresh tokens that keep a sign-in going."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, UTCDateTime, utcnow


class ConversationKind(StrEnum):
    CHAT = "chat"
    ONBOARDING = "onboarding"


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(StrEnum):
    STREAMING = "streaming"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"
    ERROR = "error"


FINISHED_STATUSES = frozenset(
    {
        MessageStatus.COMPLETE,
        MessageStatus.INTERRUPTED,
        MessageStatus.CANCELLED,
        MessageStatus.ERROR,
    }
)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # Stored lower-cased, so the unique constraint is case-insensitive on every database.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_user_updated", "user_id", "updated_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default=ConversationKind.CHAT)
    title: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("user_id", "client_message_id", name="uq_messages_user_client_message"),
        Index("ix_messages_conversation_created", "conversation_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.COMPLETE)
    client_message_id: Mapped[str | None] = mapped_column(String(100))
    # The user message an assistant message answers: how a retried send finds its answer.
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    error_code: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(200))
    chunk_count: Mapped[int | None] = mapped_column(Integer)
    # Where each chunk of the answer ends in `content`: a stream told again from the database
    # (after a crash, or once its log has expired) resumes at any event, exactly.
    chunk_ends: Mapped[list[int] | None] = mapped_column(JSON)
    # Added to every event's seq (chunk i is seq i + 1 + stream_offset): each Continue moves it
    # by 2, so a continuation's ids follow its predecessor's terminal event (replay.py).
    stream_offset: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Versions (migration 0006): a regenerated answer is another reply to the same user message;
    # an edited message is another user message naming the first of its group here. One version
    # of each group is `chosen`: the one shown, and the one the model reads as history.
    chosen: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    version_of_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    ttft_ms: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OnboardingState(Base):
    __tablename__ = "onboarding_states"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    current_step: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RefreshToken(Base):
    """One refresh token of a sign-in. Every token issued by refreshing joins the family of the
    sign-in it descends from, so a stolen token's reuse can end them all at once."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The sign-in (login or registration) this token descends from.
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the token, hex: the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When it was exchanged for its successor: presented again after the grace, it is theft.
    spent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sign-out, or reuse detected: the whole family at once.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
