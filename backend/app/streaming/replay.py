"""Streams told again from the database, when no live buffer holds the answer."""

from __future__ import annotations

import uuid

from app.db.models import Message, MessageStatus
from app.streaming.buffer import InMemoryStreamBuffer, StreamBuffer
from app.streaming.events import (
    ChunkEvent,
    CompleteEvent,
    ErrorCode,
    ErrorEvent,
    StartEvent,
    StreamEvent,
)
from app.streaming.generation import STOP_ENDINGS, Ending, StopReason
from app.streaming.sse import encode_event

# Stored, an interrupted answer no longer says why (a lost connection, a restart, a crash).
_STORED_INTERRUPTION = Ending(
    MessageStatus.INTERRUPTED, ErrorCode.INTERNAL, "The answer was interrupted.", True
)


def _closed_buffer(message_id: uuid.UUID, events: list[tuple[int, StreamEvent]]) -> StreamBuffer:
    buffer = InMemoryStreamBuffer()
    for seq, event in events:
        buffer.append(encode_event(message_id, seq, event))
    buffer.close()
    return buffer


def elsewhere_buffer(stored: Message, seq: int) -> StreamBuffer:
    """The answer is being written by another API process, whose buffer is not here."""
    event = ErrorEvent(
        code=ErrorCode.INTERNAL,
        message="This answer is still being written elsewhere; reload the conversation soon.",
        retryable=True,
        message_id=str(stored.id),
    )
    return _closed_buffer(stored.id, [(seq, event)])


def stored_answer_buffer(
    stored: Message, user_message_id: uuid.UUID, *, resumed: bool
) -> StreamBuffer:
    """A finished answer told again: its whole text as one chunk, then how it ended."""
    chunk_count = stored.chunk_count or 0
    if resumed:
        # The original chunk boundaries are gone, so an exact resume is impossible.
        gone = ErrorEvent(
            code=ErrorCode.INTERNAL,
            message="This answer can no longer be resumed; reload the conversation.",
            retryable=False,
            message_id=str(stored.id),
        )
        return _closed_buffer(stored.id, [(chunk_count + 1, gone)])
    events: list[tuple[int, StreamEvent]] = [
        (
            0,
            StartEvent(
                message_id=str(stored.id),
                conversation_id=str(stored.conversation_id),
                user_message_id=str(user_message_id),
            ),
        )
    ]
    if stored.content:
        events.append((1, ChunkEvent(content=stored.content, index=0)))
    events.append((chunk_count + 1, stored_ending(stored)))
    return _closed_buffer(stored.id, events)


def stored_ending(stored: Message) -> StreamEvent:
    """The terminal event matching a stored answer's status."""
    if stored.status == MessageStatus.COMPLETE:
        return CompleteEvent(
            message_id=str(stored.id),
            conversation_id=str(stored.conversation_id),
            chunks=1 if stored.content else 0,
            finish_reason="stop",
        )
    if stored.status == MessageStatus.CANCELLED:
        ending = STOP_ENDINGS[StopReason.CANCELLED]
    elif stored.status == MessageStatus.INTERRUPTED:
        ending = _STORED_INTERRUPTION
    else:
        code = ErrorCode(stored.error_code) if stored.error_code in set(ErrorCode) else None
        ending = Ending(
            MessageStatus.ERROR,
            code or ErrorCode.LLM_ERROR,
            "The answer failed. Please try again.",
            True,
        )
    return ErrorEvent(
        code=ending.code,
        message=ending.message,
        retryable=ending.retryable,
        message_id=str(stored.id),
    )
