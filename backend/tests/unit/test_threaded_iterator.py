"""A blocking generator on its own thread hands its items over without waiting for the reader."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.llm.threaded_iterator import ThreadedIterator


@pytest.fixture
def executor() -> Generator[ThreadPoolExecutor, None, None]:
    with ThreadPoolExecutor(1) as pool:
        yield pool


async def _read_all(items: ThreadedIterator[int]) -> list[int]:
    read = []
    while await items.ready(5):
        item = items.take()
        if item is None:
            return read
        read.append(item)
    raise AssertionError("nothing came for 5 s")


async def test_the_thread_computes_ahead_while_the_reader_is_busy(
    executor: ThreadPoolExecutor,
) -> None:
    computed: list[int] = []

    def tokens() -> Generator[int, None, None]:
        for token in range(5):
            time.sleep(0.01)  # like llama.cpp computing a token
            computed.append(token)
            yield token

    items = ThreadedIterator(tokens(), executor)
    assert await items.ready(5)
    first = items.take()
    await asyncio.sleep(0.3)  # the reader is busy with the first token (sending it, say)
    # Asked one token at a time, the thread would have waited for the reader after the first.
    assert computed == [0, 1, 2, 3, 4]
    assert [first, *await _read_all(items)] == [0, 1, 2, 3, 4]
    await items.close()


async def test_close_stops_after_the_item_being_computed_and_closes_the_generator(
    executor: ThreadPoolExecutor,
) -> None:
    started = threading.Event()
    closed_on: list[str] = []
    computed: list[int] = []

    def endless() -> Generator[int, None, None]:
        token = 0
        try:
            while True:
                started.set()
                time.sleep(0.05)
                computed.append(token)
                yield token
                token += 1
        finally:
            closed_on.append(threading.current_thread().name)

    items = ThreadedIterator(endless(), executor)
    await asyncio.to_thread(started.wait, 5)
    await items.close()
    # Closed on the model's own thread, before close returned, after at most one more token.
    assert closed_on and closed_on[0] != threading.current_thread().name
    assert len(computed) <= 2
    # Nothing runs on the thread any more: the next job starts at once.
    assert await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(executor, int), 1) == 0


async def test_the_generators_error_reaches_the_reader_after_its_items(
    executor: ThreadPoolExecutor,
) -> None:
    def failing() -> Generator[int, None, None]:
        yield 1
        raise ValueError("the model broke")

    items = ThreadedIterator(failing(), executor)
    assert await items.ready(5) and items.take() == 1
    assert await items.ready(5)
    with pytest.raises(ValueError, match="the model broke"):
        items.take()
    await items.close()


async def test_ready_says_no_while_the_thread_computes_longer_than_asked(
    executor: ThreadPoolExecutor,
) -> None:
    def slow() -> Generator[int, None, None]:
        time.sleep(0.3)
        yield 7

    items = ThreadedIterator(slow(), executor)
    assert not await items.ready(0.05)
    assert await _read_all(items) == [7]
    await items.close()
