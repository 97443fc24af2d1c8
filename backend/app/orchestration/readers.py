"""Reading a turn's answer: streamed (live, resumed, or told again from the database) or whole."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from app.core.config import Settings
from app.core.errors import GenerationTimedOut, LLMError, MessageNotFound
from app.db.models import ConversationKind, MessageStatus
from app.db.session import Database
from app.schemas.chat import ChatTurnRead, MessageRead
from app.services import onboarding, turns
from app.streaming import replay
from app.streaming.buffer import StreamBuffer
from app.streaming.events import ErrorCode, OnboardingProgress
from app.streaming.generation import Generation
from app.streaming.manager import StreamManager
from app.streaming.sse import EventId


@dataclass(frozen=True, slots=True)
class StreamHandle:
    """What an SSE response reads: a buffer, where to start, and the live generation if any."""

    buffer: StreamBuffer
    after_seq: int
    generation: Generation | None


async def stream_handle(
    db: Database, streams: StreamManager, turn: turns.TurnRecord, resume: EventId | None
) -> StreamHandle | None:
    """Where a reader of this answer starts; None if it already has the terminal event."""
    assistant = turn.assistant_message
    after_seq = -1
    if resume is not None and resume.message_id == assistant.id:
        after_seq = resume.seq
    generation = streams.get(assistant.id)
    if generation is not None:
        if generation.buffer.closed and after_seq >= generation.buffer.next_seq - 1:
            return None  # the client already has the terminal event
        return StreamHandle(generation.buffer, after_seq, generation)
    stored = await turns.load_message(db, assistant.id) or assistant
    if stored.status == MessageStatus.STREAMING:
        return StreamHandle(replay.elsewhere_buffer(stored, after_seq + 1), -1, None)
    terminal_seq = (stored.chunk_count or 0) + 1
    if after_seq >= terminal_seq:
        return None
    return StreamHandle(
        replay.stored_answer_buffer(stored, turn.user_message.id, resumed=after_seq >= 0),
        -1,
        None,
    )


async def whole_answer(
    db: Database,
    streams: StreamManager,
    settings: Settings,
    turn: turns.TurnRecord,
    kind: ConversationKind,
) -> ChatTurnRead:
    """Wait for the answer to end, then read it back as stored."""
    generation = streams.get(turn.assistant_message.id)
    if generation is not None:
        generation.attach()
        try:
            outcome = await asyncio.shield(generation.wait())
        finally:
            generation.detach()
        if outcome.error_code is ErrorCode.LLM_ERROR:
            raise LLMError()
        if outcome.error_code is ErrorCode.TIMEOUT:
            raise GenerationTimedOut()
    assistant = await turns.load_message(db, turn.assistant_message.id)
    if assistant is None:
        raise MessageNotFound()
    progress: OnboardingProgress | None = None
    if kind is ConversationKind.ONBOARDING:
        state = await onboarding.read_onboarding(db, settings, turn.user_message.user_id)
        progress = OnboardingProgress(progress=state.progress, completed=state.completed)
    return ChatTurnRead(
        conversation_id=assistant.conversation_id,
        user_message=MessageRead.model_validate(turn.user_message),
        assistant_message=MessageRead.model_validate(assistant),
        onboarding=progress,
    )
