"""Streams told again from the database, when no live buffer or log holds the answer.

An answer stored with its chunk boundaries (`chunk_ends`) is told again exactly as it streamed:
the same events under the same ids, so a reader resumes after any of them (after a crash, a
restart, or once its log has expired). An older answer without them comes as one chunk, and
cannot be resumed part way.
"""

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


def stored_chunks(stored: Message) -> list[str] | None:
    """The stored answer cut where its chunks streamed; None if the boundaries were not kept."""
    ends = stored.chunk_ends
    if ends is None or len(ends) != (stored.chunk_count or 0):
        return None
    starts = [0, *ends[:-1]] if ends else []
    return [stored.content[start:end] for start, end in zip(starts, ends, strict=True)]


def stored_pieces(stored: Message) -> list[str]:
    """The stored answer's chunks, or its text as one when the boundaries were not kept."""
    chunks = stored_chunks(stored)
    if chunks is None:
        return [stored.content] if stored.content else []
    return chunks


def run_first_seq(stored: Message) -> int:
    """The seq of the `start` event of the answer's latest run, as stored while it runs: 0, or,
    for a Continue (reopened: its stream_offset moved), past the stored chunks."""
    if not stored.stream_offset:
        return 0
    return len(stored_pieces(stored)) + stored.stream_offset


def terminal_seq(stored: Message) -> int:
    """The seq of a stored answer's terminal event: chunk i is seq i + 1 + stream_offset."""
    chunks = stored_chunks(stored)
    if chunks is None:
        return (stored.chunk_count or 0) + 1
    return len(chunks) + 1 + (stored.stream_offset or 0)


def stored_answer_buffer(
    stored: Message, user_message_id: uuid.UUID, after_seq: int
) -> StreamBuffer:
    """A finished answer told again from after event `after_seq` (-1: from its start).

    Chunk i is event i + 1 + stream_offset, as it streamed; the start event comes first when
    the reader has nothing of it (a continued answer's start is at its offset).
    """
    chunks = stored_chunks(stored)
    if chunks is None:
        return _one_chunk_buffer(stored, user_message_id, resumed=after_seq >= 0)
    offset = stored.stream_offset or 0
    if after_seq > len(chunks) + 1 + offset:
        return _kept_instead(stored, len(chunks), after_seq)
    events: list[tuple[int, StreamEvent]] = []
    if after_seq < offset:
        events.append((offset, _start(stored, user_message_id)))
    for index in range(max(0, after_seq - offset), len(chunks)):
        events.append((index + 1 + offset, ChunkEvent(content=chunks[index], index=index)))
    ending = stored_ending(stored, chunk_count=len(chunks))
    events.append((len(chunks) + 1 + offset, ending))
    return _closed_buffer(stored.id, events)


def _kept_instead(stored: Message, chunk_count: int, after_seq: int) -> StreamBuffer:
    """The reader was sent events past the stored answer's end: its process died between two
    checkpoints (the embedded mode), and what came after the last one is lost. It cannot resume;
    it is told how the answer ended and what was kept (`content`), so that it shows the stored
    text, which a Continue goes on from. Under a seq past its own, so it is not skipped."""
    ending = stored_ending(stored, chunk_count=chunk_count)
    kept = ending.model_copy(update={"content": stored.content})
    return _closed_buffer(stored.id, [(after_seq + 1, kept)])


def _start(stored: Message, user_message_id: uuid.UUID) -> StartEvent:
    return StartEvent(
        message_id=str(stored.id),
        conversation_id=str(stored.conversation_id),
        user_message_id=str(user_message_id),
    )


def _one_chunk_buffer(
    stored: Message, user_message_id: uuid.UUID, *, resumed: bool
) -> StreamBuffer:
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
    events: list[tuple[int, StreamEvent]] = [(0, _start(stored, user_message_id))]
    if stored.content:
        events.append((1, ChunkEvent(content=stored.content, index=0)))
    ending = stored_ending(stored, chunk_count=1 if stored.content else 0)
    events.append((chunk_count + 1, ending))
    return _closed_buffer(stored.id, events)


def stored_ending(stored: Message, *, chunk_count: int) -> StreamEvent:
    """The terminal event matching a stored answer's status (`chunk_count` chunks told)."""
    if stored.status == MessageStatus.COMPLETE:
        return CompleteEvent(
            message_id=str(stored.id),
            conversation_id=str(stored.conversation_id),
            chunks=chunk_count,
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
