"""Embedded mode: answers in flight are checkpointed to the database, chunk boundaries and all."""

from __future__ import annotations

import asyncio

import pytest

from app.db.session import Database
from app.orchestration import checkpoints
from app.services import turns
from tests.fixtures.accounts import new_account
from tests.fixtures.database import DbProbe, StoredMessage
from tests.fixtures.models import scripted_model, words
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import StreamReader, start_stream, stream_params
from tests.fixtures.waiting import poll_value

pytestmark = pytest.mark.asyncio


async def _stream_until_checkpointed(
    live_server_factory: AppFactory, database_url: str, answers: int
) -> list[tuple[StreamReader, StoredMessage | None]]:
    """`answers` streams at once, each with the first checkpoint of its answer, then to the end."""
    model = scripted_model(words(80), delay_s=0.03)
    async with live_server_factory(model=model, stream_checkpoint_s=0.3) as server:
        async with server.client() as client, DbProbe(database_url) as probe:
            account = await new_account(client)
            readers = [
                start_stream(client, stream_params(account.access_token, f"Question {n}"))
                for n in range(answers)
            ]
            for reader, _ in readers:
                await reader.wait_for_events(2)
            checkpointed = [
                (
                    reader,
                    await poll_value(
                        lambda reader=reader: probe.message(reader.message_id),
                        lambda stored: stored is not None and bool(stored.chunk_count),
                        timeout_s=5,
                    ),
                )
                for reader, _ in readers
            ]
            await asyncio.gather(*(task for _, task in readers))
    return checkpointed


async def test_answers_in_flight_are_checkpointed_with_their_chunk_boundaries(
    live_server_factory: AppFactory, database_url: str
) -> None:
    for reader, stored in await _stream_until_checkpointed(live_server_factory, database_url, 2):
        assert stored is not None and stored.status == "streaming"
        streamed = [p["content"] for p in reader.payloads if p["type"] == "chunk"]
        count = stored.chunk_count or 0
        # A checkpoint is a prefix of what streamed, cut where the chunks were.
        assert stored.content == "".join(streamed[:count])
        ends = stored.chunk_ends or []
        assert len(ends) == count and ends[-1] == len(stored.content)


async def test_a_checkpoint_of_more_answers_than_a_slice_writes_them_all_slice_by_slice(
    live_server_factory: AppFactory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoints, "SLICE", 2)
    ticks: list[list[int]] = []  # per checkpoint, the size of each unit of work it wrote
    write, checkpoint = turns.checkpoint_answers, checkpoints.Checkpointer.checkpoint

    async def write_and_count(db: Database, partials: list[dict[str, object]]) -> None:
        ticks[-1].append(len(partials))
        await write(db, partials)

    async def tick(self: checkpoints.Checkpointer) -> int:
        ticks.append([])
        return await checkpoint(self)

    monkeypatch.setattr(turns, "checkpoint_answers", write_and_count)
    monkeypatch.setattr(checkpoints.Checkpointer, "checkpoint", tick)
    await _stream_until_checkpointed(live_server_factory, database_url, 5)
    # Five answers grown at once: three units of work, never one of five.
    assert [2, 2, 1] in ticks
    assert max(size for sizes in ticks for size in sizes) == 2
