"""Reading a turn's answer: streamed (live, resumed, or told again from the database) or whole."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from app.core.config import Settings
from app.core.errors import GenerationTimedOut, LLMError, MessageNotFound
from app.db.models import ConversationKind, Message, MessageStatus
from app.db.session import Database
from app.orchestration.cluster import StreamCluster, recovered_terminal_seq
from app.schemas.chat import ChatTurnRead, MessageRead
from app.services import onboarding, turns
from app.streaming import replay
from app.streaming.buffer import FrameSource
from app.streaming.events import ErrorCode, OnboardingProgress
from app.streaming.generation import Generation
from app.streaming.manager import StreamManager
from app.streaming.sse import EventId


@dataclass(frozen=True, slots=True)
class StreamHandle:
    """What an SSE response reads: frames, where to start, and the live generation if any."""

    source: FrameSource
    after_seq: int
    generation: Generation | None


async def stream_handle(
    db: Database,
    streams: StreamManager,
    cluster: StreamCluster | None,
    answer: Message,
    resume: EventId | None,
) -> StreamHandle | None:
    """Where a reader of this answer starts; None if it already has the terminal event.

    In order: the generation in this process; the answer's log (scaled mode), written by any
    process; the database.
    """
    after_seq = -1
    if resume is not None and resume.message_id == answer.id:
        after_seq = resume.seq
    generation = streams.get(answer.id)
    if generation is not None and cluster is not None and generation.done.is_set():
        generation = None  # the log is as good, and newer if another process continued it
    if generation is not None:
        if generation.buffer.closed and after_seq >= generation.buffer.next_seq - 1:
            return None  # the client already has the terminal event
        return StreamHandle(generation.buffer, after_seq, generation)
    if cluster is not None:
        last = await cluster.last_entry(answer.id)
        if last is not None:
            last_seq, ended = last
            if ended and after_seq >= last_seq:
                return None
            return StreamHandle(cluster.reader(answer.id), after_seq, None)
    stored = await turns.load_message(db, answer.id) or answer
    if stored.status == MessageStatus.STREAMING:
        if cluster is None:
            return StreamHandle(replay.elsewhere_buffer(stored, after_seq + 1), -1, None)
        if await cluster.is_live(answer.id):  # claimed, its first event not yet written
            return StreamHandle(cluster.reader(answer.id), after_seq, None)
        # Nobody holds it and it has no log (Redis lost its data): it can only have ended.
        await turns.interrupt_answer(db, answer.id)
        stored = await turns.load_message(db, answer.id) or stored
    if after_seq == replay.terminal_seq(stored):
        return None  # past it: the reader was sent more than was stored (a crash), and is told
    if cluster is not None and after_seq == recovered_terminal_seq(stored):
        return None  # it has the end a survivor wrote for a dead writer, whose log has expired
    user_message_id = stored.reply_to_id or answer.reply_to_id or answer.id
    return StreamHandle(replay.stored_answer_buffer(stored, user_message_id, after_seq), -1, None)


async def whole_answer(
    db: Database,
    streams: StreamManager,
    settings: Settings,
    cluster: StreamCluster | None,
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
    elif cluster is not None and turn.assistant_message.status == MessageStatus.STREAMING:
        # A repeated send whose answer another process writes: wait for it there.
        await cluster.wait_for_end(turn.assistant_message.id, settings.stream_idle_timeout_s * 2)
    assistant = await turns.load_message(db, turn.assistant_message.id)
    question = turn.user_message
    if assistant is None and question.client_message_id is not None:
        # A retry replaced it meanwhile: the question's answer now is the retry's.
        assistant = await turns.find_answer(db, question.user_id, question.client_message_id)
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
