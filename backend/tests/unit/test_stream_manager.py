"""The stream manager: answers running against finished ones kept a while for late readers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from app.streaming.generation import GenerationOutcome, StopReason
from app.streaming.manager import StreamManager

pytestmark = pytest.mark.asyncio


async def _chunks(count: int, release: asyncio.Event) -> AsyncIterator[str]:
    for n in range(count):
        await release.wait()
        yield f"word{n} "


async def _nothing_to_store(_: GenerationOutcome) -> None:
    return None


async def test_running_lists_answers_in_flight_only_while_finished_ones_stay_findable() -> None:
    streams = StreamManager(idle_timeout_s=5, disconnect_grace_s=5, buffer_ttl_s=60)
    releases = [asyncio.Event() for _ in range(3)]
    started = [
        streams.start(
            message_id=uuid.uuid4(),
            conversation_id=uuid.uuid4(),
            user_message_id=uuid.uuid4(),
            chunks=_chunks(3, release),
            finalise=_nothing_to_store,
        )
        for release in releases
    ]
    assert streams.running() == started

    started[0].stop(StopReason.CANCELLED)
    await asyncio.wait_for(started[0].done.wait(), 5)
    await asyncio.sleep(0)  # the task's end reaches the manager
    assert streams.running() == started[1:]
    assert streams.get(started[0].message_id) is started[0]  # kept for a late reconnect

    for release in releases[1:]:
        release.set()
    await asyncio.wait_for(asyncio.gather(*(g.done.wait() for g in started[1:])), 5)
    await asyncio.sleep(0)
    assert streams.running() == []
    assert all(streams.get(g.message_id) is g for g in started)
    await streams.shutdown()
