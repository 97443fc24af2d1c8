"""Answers waiting for a one-at-a-time model: each stream hears its place (`queued`, no id)
as the queue moves, a stopped waiter leaves it, and resuming stays exact."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.fixtures.accounts import Account, new_account
from tests.fixtures.models import OneAtATimeModel, one_at_a_time_model, words
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import (
    STREAM_PATH,
    StreamReader,
    event_seq,
    read_stream,
    start_stream,
    stream_params,
)
from tests.fixtures.waiting import poll_until

pytestmark = pytest.mark.timeout(60)


def _positions(reader: StreamReader) -> list[int]:
    return [p["position"] for p in reader.payloads if p["type"] == "queued"]


def _answer_seqs(reader: StreamReader) -> list[int]:
    """The seqs of the answer's own events (a queued event has no id of its own)."""
    return [event_seq(e) for e in reader.events if e.json["type"] != "queued"]


def assert_queued_events_have_no_id(reader: StreamReader) -> None:
    frames = [frame for frame in reader.text.split("\n\n") if '"type":"queued"' in frame]
    assert frames, "no queued event"
    for frame in frames:
        assert not any(line.startswith("id:") for line in frame.splitlines()), frame


def assert_queued_only_before_the_first_chunk(reader: StreamReader) -> None:
    types = reader.types
    assert types[0] == "start", types
    first_chunk = types.index("chunk")
    assert "queued" not in types[first_chunk:], types


async def _queued_stream(
    client: httpx.AsyncClient, account: Account, message: str, position: int
) -> tuple[StreamReader, asyncio.Task[StreamReader], dict[str, str]]:
    params = stream_params(account.access_token, message)
    reader, task = start_stream(client, params)
    await poll_until(lambda: position in _positions(reader))
    return reader, task, params


class HeldModel:
    """The one-at-a-time model whose first answer holds the model until `release()`, so the
    queue behind it stands still however slow the machine is."""

    def __init__(self, chunks: int = 30) -> None:
        self.model: OneAtATimeModel = one_at_a_time_model(words(chunks), delay_s=0.02)
        self._gate = asyncio.Event()

        async def hold_the_first_answer() -> None:
            if len(self.model.calls) == 1:
                await self._gate.wait()

        self.model.on_call = hold_the_first_answer

    def release(self) -> None:
        self._gate.set()


async def _holder(
    client: httpx.AsyncClient, account: Account, held: HeldModel
) -> tuple[StreamReader, asyncio.Task[StreamReader]]:
    """An answer that has the model (and keeps it until the test releases it)."""
    reader, task = start_stream(client, stream_params(account.access_token, "First"))
    await poll_until(lambda: len(held.model.calls) == 1)
    return reader, task


async def test_waiting_answers_hear_their_places_two_then_one_then_their_answer(
    live_server_factory: AppFactory,
) -> None:
    held = HeldModel()
    model = held.model
    async with live_server_factory(model=model) as server:
        async with server.client() as client:
            accounts = [await new_account(client) for _ in range(3)]
            first, first_task = await _holder(client, accounts[0], held)
            second, second_task, _ = await _queued_stream(client, accounts[1], "Second", 1)
            third, third_task, _ = await _queued_stream(client, accounts[2], "Third", 2)
            assert _positions(third) == [2] and "chunk" not in third.types
            held.release()
            await asyncio.wait_for(asyncio.gather(first_task, second_task, third_task), 30)
    assert _positions(first) == []  # nobody ahead of it: never queued
    assert _positions(second) == [1]
    assert _positions(third) == [2, 1]
    for reader in (second, third):
        assert_queued_events_have_no_id(reader)
        assert_queued_only_before_the_first_chunk(reader)
        assert {p["message_id"] for p in reader.payloads if p["type"] == "queued"} == {
            reader.message_id
        }
    for reader in (first, second, third):
        assert reader.types[-1] == "complete", reader.types
        assert _answer_seqs(reader) == list(range(len(_answer_seqs(reader))))
        assert reader.chunk_text == model.full_text
    # One answer at a time, in arrival order: the model's words were never interleaved.
    assert "".join(text for _, text in model.emitted) == model.full_text * 3


async def test_a_stopped_waiter_leaves_the_queue_and_the_one_behind_moves_up(
    live_server_factory: AppFactory,
) -> None:
    held = HeldModel()
    model = held.model
    async with live_server_factory(model=model) as server:
        async with server.client() as client:
            accounts = [await new_account(client) for _ in range(3)]
            _, first_task = await _holder(client, accounts[0], held)
            second, second_task, _ = await _queued_stream(client, accounts[1], "Second", 1)
            third, third_task, _ = await _queued_stream(client, accounts[2], "Third", 2)
            stop = await client.post(
                f"/api/v1/chat/messages/{second.message_id}/cancel", headers=accounts[1].auth
            )
            assert stop.status_code == 202, stop.text
            assert stop.json()["status"] == "cancelled"
            await poll_until(lambda: 1 in _positions(third))
            assert "chunk" not in third.types  # moved up, still waiting for the first answer
            held.release()
            await asyncio.wait_for(asyncio.gather(first_task, second_task, third_task), 30)
    assert second.terminal["code"] == "cancelled"
    assert "chunk" not in second.types
    assert _positions(third) == [2, 1]
    assert third.types[-1] == "complete" and third.chunk_text == model.full_text
    assert len(model.calls) == 2  # the stopped answer never reached the model


async def test_resuming_a_queued_answer_is_exact_and_hears_its_place_again(
    live_server_factory: AppFactory,
) -> None:
    held = HeldModel(40)
    model = held.model
    async with live_server_factory(model=model, stream_disconnect_grace_s=5) as server:
        async with server.client() as client:
            accounts = [await new_account(client) for _ in range(2)]
            _, first_task = await _holder(client, accounts[0], held)
            params = stream_params(accounts[1].access_token, "Second")
            cut = await read_stream(client, params, stop_after=2)  # start, then its place
            assert cut.types == ["start", "queued"]
            last_id = cut.events[-1].id or ""
            assert last_id == f"{cut.message_id}:0"  # the place moved no id: start's is last
            attach = await read_stream(
                client,
                {"token": accounts[1].access_token},
                path=f"/api/v1/chat/messages/{cut.message_id}/stream",
                stop_after=2,
            )
            rest = StreamReader(client, STREAM_PATH, params, {"Last-Event-ID": last_id})
            resuming = asyncio.create_task(rest.run())
            await poll_until(lambda: "queued" in rest.types)  # told its place again
            held.release()
            await asyncio.wait_for(asyncio.gather(first_task, resuming), 30)
            replay = await read_stream(client, params)
    assert attach.types == ["start", "queued"] and _positions(attach) == [1]
    assert _positions(rest) == [1]  # still waiting when it came back: told again
    assert_queued_events_have_no_id(rest)
    assert rest.types[-1] == "complete"
    assert _answer_seqs(rest) == list(range(1, 1 + len(_answer_seqs(rest))))
    assert cut.chunk_text + rest.chunk_text == model.full_text
    # Once written, the answer replays as if it had never waited.
    assert "queued" not in replay.types
    expected: list[dict[str, Any]] = [p for p in rest.payloads if p["type"] != "queued"]
    assert replay.payloads[1:] == expected
