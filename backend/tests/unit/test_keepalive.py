"""Waiting is not stalling: work that reports keep-alives is not cut by the idle timeout."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Generator

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from app.core.keepalive import keep_alive, keepalive_callback
from app.db.models import MessageStatus
from app.llm import local
from app.llm.threaded_iterator import ThreadedIterator
from app.streaming.buffer import InMemoryStreamBuffer
from app.streaming.events import OnboardingProgress
from app.streaming.generation import Generation, GenerationOutcome


async def _no_progress(_: GenerationOutcome) -> OnboardingProgress | None:
    return None


def _generation(chunks: AsyncIterator[str], idle_timeout_s: float) -> Generation:
    return Generation(
        message_id=uuid.uuid4(),
        conversation_id=uuid.uuid4(),
        user_message_id=uuid.uuid4(),
        chunks=chunks,
        finalise=_no_progress,
        buffer=InMemoryStreamBuffer(),
        idle_timeout_s=idle_timeout_s,
        disconnect_grace_s=60,
    )


async def test_keep_alives_hold_off_the_idle_timeout() -> None:
    async def queued_then_answers() -> AsyncIterator[str]:
        for _ in range(8):  # 0.4 s in all, far past the 0.15 s idle timeout
            await asyncio.sleep(0.05)
            keep_alive()
        yield "finally"

    generation = _generation(queued_then_answers(), idle_timeout_s=0.15)
    generation.start()
    outcome = await asyncio.wait_for(generation.wait(), 5)
    assert outcome.status is MessageStatus.COMPLETE
    assert outcome.content == "finally"


async def test_without_keep_alives_silence_times_out() -> None:
    async def silent() -> AsyncIterator[str]:
        await asyncio.sleep(0.4)
        yield "too late"

    generation = _generation(silent(), idle_timeout_s=0.15)
    generation.start()
    outcome = await asyncio.wait_for(generation.wait(), 5)
    assert outcome.status is MessageStatus.ERROR
    assert outcome.error_code == "timeout"


def test_keep_alive_reaches_only_the_callback_bound_around_it() -> None:
    pings = PingCounter()
    keep_alive()  # no callback bound yet: nothing to call, and no error
    with keepalive_callback(pings):
        keep_alive()
        keep_alive()
    keep_alive()  # after the generation: the callback is no longer reached
    assert pings.count == 2


class PingCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def _local_model_with_fast_keepalives(
    monkeypatch: pytest.MonkeyPatch,
) -> local.LocalLlamaChatModel:
    # A module constant with no constructor argument: patching it is the only way to shorten it.
    monkeypatch.setattr(local, "TURN_KEEPALIVE_S", 0.05)
    return await asyncio.to_thread(
        local.load_local_model, None, max_tokens=4, temperature=0.0, context_tokens=256, threads=1
    )


@pytest.mark.slow
async def test_local_model_reports_keep_alives_while_queued_and_keeps_its_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = await _local_model_with_fast_keepalives(monkeypatch)
    pings = PingCounter()
    await model._turns.acquire()  # another generation holds the model
    with keepalive_callback(pings):
        waiter = asyncio.ensure_future(model._wait_for_turn())
        await asyncio.sleep(0.3)
        assert not waiter.done()
        assert pings.count >= 3
        model._turns.release()
        await asyncio.wait_for(waiter, 5)
    assert model._turns.busy and model._turns.waiting == 0  # the waiter got the turn
    model._turns.release()


@pytest.mark.slow
async def test_local_model_reports_keep_alives_while_computing_and_gives_up_eventually(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = await _local_model_with_fast_keepalives(monkeypatch)

    def slow_tokens(delay_s: float) -> Generator[ChatGenerationChunk, None, None]:
        time.sleep(delay_s)  # like llama.cpp reading a long prompt
        yield ChatGenerationChunk(message=AIMessageChunk(content="late"))

    pings = PingCounter()
    with keepalive_callback(pings):
        chunk = await model._next_chunk(ThreadedIterator(slow_tokens(0.4), model._executor))
    assert chunk is not None and chunk.text == "late"
    assert pings.count >= 3

    # Likewise a module constant: five minutes in the app, far too long for a test.
    monkeypatch.setattr(local, "LOCAL_TOKEN_TIMEOUT_S", 0.2)
    tokens = ThreadedIterator(slow_tokens(1.0), model._executor)
    with pytest.raises(TimeoutError):
        await model._next_chunk(tokens)
    await tokens.close()
