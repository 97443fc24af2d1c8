"""app/llm/scripted: fixed text, a set pace, failures and stalls on demand, as documented."""

from __future__ import annotations

import asyncio
import time

import pytest
from langchain_core.messages import HumanMessage

from app.llm.scripted import ScriptedChatModel, ScriptedModelFailure, split_into_chunks
from tests.fixtures.models import scripted_model

PROMPT = [HumanMessage("hi")]
TEXT = "alpha beta gamma delta epsilon"


async def _collect(model: ScriptedChatModel) -> list[str]:
    # LangChain's astream ends with an empty marker chunk of its own: leave it out.
    return [str(chunk.content) async for chunk in model.astream(PROMPT) if chunk.content]


@pytest.mark.parametrize(
    "text", [TEXT, "  leading and trailing  ", "line\n\nbreaks\tand `code`\n", "ünïcödé ✓ 字", ""]
)
def test_chunks_concatenate_to_exactly_the_text(text: str) -> None:
    assert "".join(split_into_chunks(text)) == text


async def test_model_yields_word_sized_chunks_of_its_text() -> None:
    chunks = await _collect(scripted_model(TEXT))
    assert chunks == ["alpha ", "beta ", "gamma ", "delta ", "epsilon"]


async def test_pace_is_one_delay_per_chunk() -> None:
    model = scripted_model(TEXT, delay_s=0.04)
    started = time.perf_counter()
    arrivals: list[float] = []
    async for chunk in model.astream(PROMPT):
        if chunk.content:
            arrivals.append(time.perf_counter() - started)
    assert len(arrivals) == 5
    # Chunk n is due n delays after the start: never before (a little clock slack).
    assert all(at >= (n + 1) * 0.04 - 0.002 for n, at in enumerate(arrivals))


async def test_pace_does_not_drift_when_the_loop_is_busy() -> None:
    # 50 chunks at 2 ms (500 chunks/s) while the loop is blocked 8 ms of every 10: each late
    # wake-up used to add its lateness to every chunk after it (about 0.5 s here, not 0.1 s).
    model = scripted_model(" ".join(["word"] * 50), delay_s=0.002)
    done = asyncio.Event()

    async def hog() -> None:
        while not done.is_set():
            time.sleep(0.008)  # the loop busy with other streams
            await asyncio.sleep(0.002)

    busy = asyncio.create_task(hog())
    started = time.perf_counter()
    chunks = await _collect(model)
    elapsed = time.perf_counter() - started
    done.set()
    await busy
    assert len(chunks) == 50
    assert 0.1 - 0.002 <= elapsed < 0.1 + 0.1


async def test_fail_after_zero_raises_before_any_chunk() -> None:
    received: list[str] = []
    with pytest.raises(ScriptedModelFailure):
        async for chunk in scripted_model(TEXT, fail_after=0).astream(PROMPT):
            received.append(str(chunk.content))
    assert received == []


async def test_fail_after_n_yields_n_chunks_then_raises() -> None:
    received: list[str] = []
    with pytest.raises(ScriptedModelFailure, match="after 2 chunks"):
        async for chunk in scripted_model(TEXT, fail_after=2).astream(PROMPT):
            received.append(str(chunk.content))
    assert received == ["alpha ", "beta "]


async def test_fail_after_the_whole_text_raises_at_the_end() -> None:
    received: list[str] = []
    with pytest.raises(ScriptedModelFailure, match="at the end"):
        async for chunk in scripted_model(TEXT, fail_after=5).astream(PROMPT):
            received.append(str(chunk.content))
    assert "".join(received) == TEXT and len(received) == 5


async def test_stall_after_n_goes_silent_after_n_chunks() -> None:
    received: list[str] = []
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            async for chunk in scripted_model(TEXT, stall_after=2).astream(PROMPT):
                received.append(str(chunk.content))
    assert received == ["alpha ", "beta "]


async def test_stalled_model_can_be_cancelled() -> None:
    async def consume() -> None:
        async for _ in scripted_model(TEXT, stall_after=0).astream(PROMPT):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_whole_answer_at_once_is_the_text() -> None:
    assert (await scripted_model(TEXT).ainvoke(PROMPT)).content == TEXT
    assert scripted_model(TEXT).invoke(PROMPT).content == TEXT


def test_sync_call_fails_on_demand_too() -> None:
    with pytest.raises(ScriptedModelFailure):
        scripted_model(TEXT, fail_after=1).invoke(PROMPT)
