"""app/orchestration: a send becomes a stored turn and a generated answer; no HTTP, real SQLite."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.core.config import Settings
from app.core.errors import LLMError, MessageNotFound, RateLimited
from app.db.models import ConversationKind, MessageStatus
from app.db.session import Database
from app.llm.factory import ChatModelProvider
from app.llm.scripted import ScriptedChatModel
from app.orchestration.orchestrator import Orchestrator, Send
from app.schemas.auth import AuthUser, UserCreate
from app.services import accounts, onboarding, turns
from app.services.rate_limits import RateLimiter
from app.streaming.manager import StreamManager
from app.streaming.sse import EventId
from tests.fixtures.server import make_settings

ANSWER = "One small answer, in several words."


@dataclass
class Pipeline:
    orchestrator: Orchestrator
    db: Database
    limiter: RateLimiter
    streams: StreamManager
    settings: Settings
    user: AuthUser


@pytest.fixture
async def pipeline(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Pipeline]:
    built = await _pipeline(tmp_path, sqlite_url, ScriptedChatModel.from_text(ANSWER))
    yield built
    await built.streams.shutdown()
    await built.limiter.close()
    await built.db.dispose()


async def _pipeline(
    tmp_path: Path, sqlite_url: str, model: ScriptedChatModel, **overrides: object
) -> Pipeline:
    settings = make_settings(tmp_path, database_url=sqlite_url, **overrides)
    db = Database.from_url(sqlite_url)
    limiter = RateLimiter(settings)
    streams = StreamManager(idle_timeout_s=5, disconnect_grace_s=5, buffer_ttl_s=60)
    orchestrator = Orchestrator(
        db=db,
        models=ChatModelProvider(settings, model),
        streams=streams,
        settings=settings,
        limiter=limiter,
    )
    created = await accounts.register(
        db, settings, UserCreate(email="ada@example.com", password="long enough pw")
    )
    return Pipeline(orchestrator, db, limiter, streams, settings, AuthUser.model_validate(created))


async def test_a_chat_send_is_answered_and_the_answer_is_stored(pipeline: Pipeline) -> None:
    p = pipeline
    turn = await p.orchestrator.send_chat(p.user, Send("Hello", "c-1"))
    read = await p.orchestrator.whole_answer(turn)
    assert read.assistant_message.content == ANSWER
    assert read.assistant_message.status == MessageStatus.COMPLETE
    stored = await turns.load_message(p.db, turn.answer_id)
    assert stored is not None and stored.content == ANSWER and stored.chunk_count
    # The stream slot was released when the answer ended.
    assert await p.limiter.slots.in_use(p.user.id) == 0


async def test_a_repeated_send_finds_the_same_turn_and_starts_nothing(pipeline: Pipeline) -> None:
    p = pipeline
    first = await p.orchestrator.send_chat(p.user, Send("Hello", "c-1"))
    await p.orchestrator.whole_answer(first)
    used = await p.limiter.hourly.retry_after_s(p.user.id)
    again = await p.orchestrator.send_chat(p.user, Send("Hello", "c-1"))
    assert again.answer_id == first.answer_id
    assert not again.record.created
    assert await p.limiter.hourly.retry_after_s(p.user.id) == used
    assert await p.limiter.slots.in_use(p.user.id) == 0


async def test_a_send_over_the_concurrent_limit_is_refused_and_stores_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    model = ScriptedChatModel.from_text(ANSWER, delay_s=0.2)
    p = await _pipeline(tmp_path, sqlite_url, model, rate_limit_concurrent_streams=1)
    try:
        running = await p.orchestrator.send_chat(p.user, Send("Hello", "c-1"))
        with pytest.raises(RateLimited):
            await p.orchestrator.send_chat(p.user, Send("Hello again", "c-2"))
        _, refused = await turns.find_turn(
            p.db, p.user, ConversationKind.CHAT, "Hello again", "c-2"
        )
        assert refused is None
        await p.orchestrator.whole_answer(running)
        assert await p.limiter.slots.in_use(p.user.id) == 0
    finally:
        await p.streams.shutdown()
        await p.db.dispose()


async def test_a_failed_answer_is_retried_by_regenerate_and_not_by_a_reconnect(
    tmp_path: Path, sqlite_url: str
) -> None:
    model = ScriptedChatModel.from_text(ANSWER, fail_after=2, fail_times=1)
    p = await _pipeline(tmp_path, sqlite_url, model)
    try:
        failed = await p.orchestrator.send_chat(p.user, Send("Hello", "c-1"))
        with pytest.raises(LLMError):
            await p.orchestrator.whole_answer(failed)
        # A reconnect (a resume position) replays the failure: no new generation.
        resume = EventId(failed.answer_id, 1)
        reconnect = await p.orchestrator.send_chat(
            p.user, Send("Hello", "c-1", regenerate=True, resume=resume)
        )
        assert reconnect.answer_id == failed.answer_id
        retried = await p.orchestrator.send_chat(p.user, Send("Hello", "c-1", regenerate=True))
        assert retried.answer_id != failed.answer_id
        read = await p.orchestrator.whole_answer(retried)
        assert read.assistant_message.content == ANSWER
        assert read.user_message.id == failed.record.user_message.id
        assert await turns.load_message(p.db, failed.answer_id) is None
    finally:
        await p.streams.shutdown()
        await p.db.dispose()


async def test_cancel_stops_the_answer_and_keeps_what_was_written(
    tmp_path: Path, sqlite_url: str
) -> None:
    model = ScriptedChatModel.from_text(ANSWER, delay_s=0.05, chunk_count=200)
    p = await _pipeline(tmp_path, sqlite_url, model)
    try:
        turn = await p.orchestrator.send_chat(p.user, Send("Hello", "c-1"))
        generation = p.streams.get(turn.answer_id)
        assert generation is not None
        while generation.buffer.next_seq < 4:  # the start event and a few chunks
            await asyncio.sleep(0.01)
        result = await p.orchestrator.cancel(p.user, turn.answer_id)
        assert result.status == MessageStatus.CANCELLED
        stored = await turns.load_message(p.db, turn.answer_id)
        assert stored is not None and stored.status == MessageStatus.CANCELLED
        assert stored.content and len(stored.content) < len(ANSWER) * 200
        assert await p.limiter.slots.in_use(p.user.id) == 0
    finally:
        await p.streams.shutdown()
        await p.db.dispose()


async def test_cancel_of_someone_elses_answer_is_not_found(pipeline: Pipeline) -> None:
    p = pipeline
    turn = await p.orchestrator.send_chat(p.user, Send("Hello", "c-1"))
    stranger = p.user.model_copy(update={"id": uuid.uuid4()})
    with pytest.raises(MessageNotFound):
        await p.orchestrator.cancel(stranger, turn.answer_id)
    await p.orchestrator.whole_answer(turn)


async def test_an_onboarding_answer_advances_the_step_once_it_is_saved(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    turn = await p.orchestrator.send_onboarding(p.user, Send("Ada", "o-1"))
    read = await p.orchestrator.whole_answer(turn)
    total = len(p.settings.onboarding_steps)
    assert read.onboarding is not None
    assert read.onboarding.progress == round(1 / total, 4) and not read.onboarding.completed
    state = await onboarding.read_onboarding(p.db, p.settings, p.user.id)
    assert state.current_step == 1
    # The agent's reply ends with the next configured question.
    assert read.assistant_message.content.endswith(p.settings.onboarding_steps[1].question)
