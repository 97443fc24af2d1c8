"""The model's queue: one answer at a time, in arrival order, each waiter told its place."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.core.queue_position import queue_position_listener
from app.llm.scripted import ScriptedChatModel
from app.llm.turn_queue import TurnQueue

pytestmark = pytest.mark.timeout(10)


class Places:
    """A waiter's listener: every place it was told, None when its turn came."""

    def __init__(self) -> None:
        self.told: list[int | None] = []

    def __call__(self, position: int | None) -> None:
        self.told.append(position)


async def _fake_answer(queue: TurnQueue, name: str, log: list[str], places: Places) -> None:
    """A fake generator's run: wait for the model, write three words, let go."""

    async def words() -> AsyncIterator[str]:
        for i in range(3):
            await asyncio.sleep(0.01)
            yield f"{name}{i}"

    async with queue.turn(places):
        async for word in words():
            log.append(word)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_waiters_hear_their_places_move_up_then_their_turn_and_run_in_arrival_order() -> None:
    queue = TurnQueue()
    log: list[str] = []
    first, second, third = Places(), Places(), Places()
    await queue.acquire(first)  # the answer being written
    b = asyncio.create_task(_fake_answer(queue, "b", log, second))
    await _settle()
    c = asyncio.create_task(_fake_answer(queue, "c", log, third))
    await _settle()
    assert (second.told, third.told, queue.waiting) == ([1], [2], 2)
    queue.release()
    await asyncio.wait_for(asyncio.gather(b, c), 5)
    assert first.told == []  # nobody ahead: no place to tell
    assert second.told == [1, None]
    assert third.told == [2, 1, None]
    assert log == ["b0", "b1", "b2", "c0", "c1", "c2"]
    assert not queue.busy and queue.waiting == 0


async def test_a_waiter_that_gives_up_leaves_and_those_behind_move_up() -> None:
    queue = TurnQueue()
    log: list[str] = []
    second, third, fourth = Places(), Places(), Places()
    await queue.acquire()
    b = asyncio.create_task(_fake_answer(queue, "b", log, second))
    c = asyncio.create_task(_fake_answer(queue, "c", log, third))
    d = asyncio.create_task(_fake_answer(queue, "d", log, fourth))
    await _settle()
    assert (second.told, third.told, fourth.told) == ([1], [2], [3])
    c.cancel()
    await _settle()
    assert third.told == [2]  # told nothing more once it left
    assert fourth.told == [3, 2]
    assert queue.waiting == 2
    b.cancel()  # the first in line gives up too
    await _settle()
    assert fourth.told == [3, 2, 1]
    queue.release()
    await asyncio.wait_for(d, 5)
    assert fourth.told == [3, 2, 1, None]
    assert log == ["d0", "d1", "d2"]
    assert not queue.busy


async def test_a_waiter_given_the_turn_as_it_gives_up_passes_it_on() -> None:
    queue = TurnQueue()
    log: list[str] = []
    second, third = Places(), Places()
    await queue.acquire()
    b = asyncio.create_task(_fake_answer(queue, "b", log, second))
    c = asyncio.create_task(_fake_answer(queue, "c", log, third))
    await _settle()
    queue.release()  # b is granted the turn...
    b.cancel()  # ...and cancelled before it could run
    await asyncio.wait_for(c, 5)
    assert b.cancelled()
    assert log == ["c0", "c1", "c2"]
    assert third.told == [2, 1, None]
    assert not queue.busy and queue.waiting == 0


async def test_still_waiting_is_called_while_the_place_does_not_move() -> None:
    queue = TurnQueue()
    pings: list[None] = []
    await queue.acquire()
    waiter = asyncio.create_task(
        queue.acquire(still_waiting=lambda: pings.append(None), patience_s=0.02)
    )
    await asyncio.sleep(0.15)
    assert len(pings) >= 3 and not waiter.done()
    queue.release()
    await asyncio.wait_for(waiter, 5)
    assert queue.busy  # the waiter holds it now
    queue.release()
    assert not queue.busy


async def test_the_scripted_model_one_at_a_time_queues_its_answers_and_tells_their_places() -> None:
    model = ScriptedChatModel.from_text("one two three", delay_s=0.01, one_at_a_time=True)
    places: dict[str, list[int | None]] = {"a": [], "b": [], "c": []}

    async def answer(name: str) -> str:
        with queue_position_listener(places[name].append):
            return "".join([str(chunk.content) async for chunk in model.astream("Hi")])

    first = asyncio.create_task(answer("a"))
    await _settle()
    others = [asyncio.create_task(answer(name)) for name in ("b", "c")]
    texts = await asyncio.wait_for(asyncio.gather(first, *others), 5)
    assert texts == ["one two three"] * 3
    assert places == {"a": [], "b": [1, None], "c": [2, 1, None]}
