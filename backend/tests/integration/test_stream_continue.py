"""Continue: an interrupted or cancelled answer is taken up where it stopped, on the same message.

The scripted model given its own partial answer goes on with its script from there, so the
whole answer after a Continue must equal the script exactly.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.fixtures.accounts import Account, new_account, stream_token
from tests.fixtures.database import DbProbe, finished
from tests.fixtures.models import scripted_model, words
from tests.fixtures.rate_limits import redis_target
from tests.fixtures.server import AppFactory, assert_error
from tests.fixtures.streams import (
    ONBOARDING_STREAM_PATH,
    StreamReader,
    read_stream,
    start_stream,
    stream_params,
)

pytestmark = pytest.mark.asyncio

SCRIPT = words(30)
# For a test that stops an answer it no longer reads, then counts on its being stopped: 3 s of
# answer, time enough for the Stop to arrive first on a loaded machine (0.6 s was not, once).
UNHURRIED_S = 0.1


def _path(message_id: str, action: str) -> str:
    return f"/api/v1/chat/messages/{message_id}/{action}"


async def _cancelled_after(
    client: httpx.AsyncClient, account: Account, events: int
) -> StreamReader:
    """An answer stopped after `events` events."""
    reader, task = start_stream(client, stream_params(await stream_token(client, account)))
    await reader.wait_for_events(events)
    await _stop(client, account, reader.message_id)
    await asyncio.wait_for(task, 10)
    return reader


async def _stop(client: httpx.AsyncClient, account: Account, message_id: str) -> None:
    """Stop an answer, which must still be running (else what the test counts on is not so)."""
    response = await client.post(_path(message_id, "cancel"), headers=account.auth)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "cancelled", response.text


async def _continue(
    client: httpx.AsyncClient, account: Account, message_id: str, **params: str
) -> StreamReader:
    token = await stream_token(client, account)
    return await read_stream(client, {"token": token, **params}, path=_path(message_id, "continue"))


async def test_a_cancelled_answer_continues_where_it_stopped(
    live_server_factory: AppFactory, database_url: str
) -> None:
    async with live_server_factory(model=scripted_model(SCRIPT, delay_s=0.02)) as server:
        async with server.client() as client:
            account = await new_account(client)
            first = await _cancelled_after(client, account, 8)
            continued = await _continue(client, account, first.message_id)
    partial = first.chunk_text
    told = len([p for p in first.payloads if p["type"] == "chunk"])
    start = continued.payloads[0]
    assert start["type"] == "start" and start["prefix"] == partial
    # The new run's ids follow the first run's terminal event; its chunk indexes go on.
    first_terminal_seq = int((first.events[-1].id or "").rsplit(":", 1)[1])
    assert continued.seqs == list(
        range(first_terminal_seq + 1, first_terminal_seq + 1 + len(continued.events))
    )
    indexes = [p["index"] for p in continued.payloads if p["type"] == "chunk"]
    assert indexes == list(range(told, told + len(indexes)))
    assert partial + continued.chunk_text == SCRIPT
    assert continued.terminal["type"] == "complete"
    assert continued.terminal["content"] == SCRIPT
    async with DbProbe(database_url) as probe:
        stored = await probe.wait_for_message(first.message_id, finished)
    assert (stored.status, stored.content) == ("complete", SCRIPT)
    assert stored.chunk_count == len(SCRIPT.split(" "))


async def test_a_continued_answer_is_told_again_with_the_same_ids(
    sqlite_server_factory: AppFactory,
) -> None:
    model = scripted_model(SCRIPT, delay_s=0.02)
    async with sqlite_server_factory(model=model, stream_buffer_ttl_s=0) as server:
        async with server.client() as client:
            account = await new_account(client)
            first = await _cancelled_after(client, account, 6)
            continued = await _continue(client, account, first.message_id)
            await asyncio.sleep(0.05)  # the finished generation is forgotten (TTL 0)
            token = await stream_token(client, account)
            watched = await read_stream(
                client, {"token": token}, path=_path(first.message_id, "stream")
            )
            middle = continued.events[len(continued.events) // 2].id or ""
            resumed = await read_stream(
                client,
                {"token": token, "last_event_id": middle},
                path=_path(first.message_id, "stream"),
            )
    # From the database: the whole answer, its chunks under the ids they streamed with.
    assert watched.chunk_text == SCRIPT
    by_id = {e.id: e.json for e in continued.events if e.json["type"] == "chunk"}
    for event in watched.events:
        if event.id in by_id:
            assert event.json == by_id[event.id]
    middle_seq = int(middle.rsplit(":", 1)[1])
    after_middle = [e for e in continued.events if int((e.id or "").rsplit(":", 1)[1]) > middle_seq]
    assert [e.json.get("content") for e in resumed.events if e.json["type"] == "chunk"] == [
        e.json["content"] for e in after_middle if e.json["type"] == "chunk"
    ]


async def test_continue_reconnects_to_the_run_in_flight(sqlite_server_factory: AppFactory) -> None:
    async with sqlite_server_factory(model=scripted_model(SCRIPT, delay_s=0.03)) as server:
        async with server.client() as client:
            account = await new_account(client)
            first = await _cancelled_after(client, account, 5)
            token = await stream_token(client, account)
            dropped = await read_stream(
                client, {"token": token}, path=_path(first.message_id, "continue"), stop_after=4
            )
            rest = await read_stream(
                client,
                {"token": token},
                path=_path(first.message_id, "continue"),
                headers={"Last-Event-ID": dropped.events[-1].id or ""},
            )
    events = dropped.events + rest.events
    seqs = [int((e.id or "").rsplit(":", 1)[1]) for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    text = "".join(e.json["content"] for e in events if e.json["type"] == "chunk")
    assert first.chunk_text + text == SCRIPT


async def test_what_cannot_be_continued(sqlite_server_factory: AppFactory) -> None:
    async with sqlite_server_factory(model=scripted_model(SCRIPT, delay_s=UNHURRIED_S)) as server:
        async with server.client() as client:
            owner, other = await new_account(client), await new_account(client)
            done = await read_stream(client, stream_params(await stream_token(client, owner)))
            someone_elses = await client.get(
                _path(done.message_id, "continue"),
                params={"token": await stream_token(client, other)},
            )
            again = await _continue(client, owner, done.message_id)
            onboarding = await read_stream(
                client,
                stream_params(await stream_token(client, owner), "Call me Ada"),
                path=ONBOARDING_STREAM_PATH,
                stop_after=3,
            )
            await _stop(client, owner, onboarding.message_id)
            refused = await client.get(
                _path(onboarding.message_id, "continue"),
                params={"token": await stream_token(client, owner)},
            )
    assert_error(someone_elses, 404, "not_found")
    # A complete answer is not generated again: it is told as stored.
    assert again.chunk_text == SCRIPT and again.terminal["type"] == "complete"
    assert "prefix" not in again.payloads[0]
    assert_error(refused, 409, "conflict")


async def test_continue_on_another_instance(sqlite_server_factory: AppFactory) -> None:
    with redis_target() as redis:
        settings: dict[str, Any] = {"redis_url": redis.url}
        async with (
            sqlite_server_factory(model=scripted_model(SCRIPT, delay_s=0.02), **settings) as a,
            sqlite_server_factory(model=scripted_model(SCRIPT, delay_s=0.02), **settings) as b,
        ):
            async with a.client() as client_a, b.client() as client_b:
                account = await new_account(client_a)
                first = await _cancelled_after(client_a, account, 7)
                continued = await _continue(client_b, account, first.message_id)
                watched = await read_stream(
                    client_a,
                    {"token": await stream_token(client_a, account)},
                    path=_path(first.message_id, "stream"),
                )
    assert first.chunk_text + continued.chunk_text == SCRIPT
    assert continued.terminal["content"] == SCRIPT
    # From the other instance's log: the continued run only, its start carrying the prefix.
    assert watched.payloads[0]["prefix"] + watched.chunk_text == SCRIPT


async def test_a_refused_or_repeated_continue_spends_no_message(
    sqlite_server_factory: AppFactory,
) -> None:
    limits = {"rate_limit_messages_per_hour": 3}
    model = scripted_model(SCRIPT, delay_s=UNHURRIED_S)
    async with sqlite_server_factory(model=model, **limits) as server:
        async with server.client() as client:
            account = await new_account(client)
            onboarding = await read_stream(
                client,
                stream_params(await stream_token(client, account), "Call me Ada"),
                path=ONBOARDING_STREAM_PATH,
                stop_after=3,
            )
            await _stop(client, account, onboarding.message_id)
            for _ in range(3):  # refused: onboarding answers are retried, not continued
                refused = await client.get(
                    _path(onboarding.message_id, "continue"),
                    params={"token": account.access_token},
                )
                assert refused.status_code == 409
            first = await _cancelled_after(client, account, 5)  # the second message
            both = await asyncio.gather(
                *(_continue(client, account, first.message_id) for _ in range(2))
            )
            third = await client.post("/api/v1/chat/stream-token", headers=account.auth)
    # Two messages and one Continue: the concurrent second Continue read the first's run.
    assert [r.terminal["type"] for r in both] == ["complete", "complete"]
    assert third.status_code == 429
    assert [first.chunk_text + r.chunk_text for r in both] == [SCRIPT, SCRIPT]
