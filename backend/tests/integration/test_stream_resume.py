"""Generation decoupled from the connection: attach by client_message_id, resume, grace, 204."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.accounts import new_account, new_client_id, stream_token
from tests.fixtures.database import DbProbe, finished
from tests.fixtures.models import recording_model, words
from tests.fixtures.server import AppFactory, LiveServer, live_server, make_settings
from tests.fixtures.streams import assert_well_formed, read_stream, start_stream, stream_params
from tests.fixtures.waiting import poll_until

pytestmark = pytest.mark.timeout(60)


def _generation_done(server: LiveServer, message_id: str) -> bool:
    generation = server.app.state.streams.get(uuid.UUID(message_id))
    return generation is not None and generation.done.is_set()


def _generation_forgotten(server: LiveServer, message_id: str) -> bool:
    return server.app.state.streams.get(uuid.UUID(message_id)) is None


async def test_same_client_message_id_attaches_to_generation_in_flight_without_new_model_call(
    live_server_factory: AppFactory,
) -> None:
    model = recording_model(words(30), delay_s=0.03)
    async with live_server_factory(model=model) as server:
        async with server.client() as client, server.client() as second_client:
            account = await new_account(client)
            params = stream_params(account.access_token, "Same question")
            first, reading = start_stream(client, params)
            await first.wait_for_events(5)
            assert not _generation_done(server, first.message_id)
            second = await read_stream(second_client, params)
            await asyncio.wait_for(reading, 10)
            emitted_while_attached = len(model.emitted)
            after_finish = await read_stream(second_client, params)
            non_streaming = await client.post(
                "/api/v1/chat/message",
                json={"message": "Same question", "client_message_id": params["client_message_id"]},
                headers=account.auth,
            )
    assert len(model.calls) == 1
    assert emitted_while_attached == 30
    assert_well_formed(second)
    assert [e.id for e in second.events] == [e.id for e in first.events]
    assert second.payloads == first.payloads
    assert after_finish.payloads == first.payloads  # replayed, exactly
    assert first.chunk_text == model.full_text
    assert non_streaming.status_code == 200, non_streaming.text
    assert non_streaming.json()["assistant_message"]["id"] == first.message_id
    assert non_streaming.json()["assistant_message"]["content"] == model.full_text


async def test_concurrent_sends_with_one_client_message_id_share_one_generation(
    live_server_factory: AppFactory,
) -> None:
    model = recording_model(words(10), delay_s=0.02)
    async with live_server_factory(model=model) as server:
        async with server.client() as client:
            account = await new_account(client)
            params = stream_params(account.access_token, "Sent twice at once")
            clients = [server.client() for _ in range(4)]
            try:
                readers = await asyncio.gather(*(read_stream(c, params) for c in clients))
            finally:
                await asyncio.gather(*(c.aclose() for c in clients))
    assert len(model.calls) == 1
    assert [r.status_code for r in readers] == [200] * 4
    assert all(r.payloads == readers[0].payloads for r in readers)
    assert readers[0].chunk_text == model.full_text


async def test_same_client_message_id_after_buffer_is_gone_replays_the_same_events(
    live_server_factory: AppFactory,
) -> None:
    model = recording_model("Stored, then told again.")
    async with live_server_factory(model=model, stream_buffer_ttl_s=0) as server:
        async with server.client() as client:
            account = await new_account(client)
            params = stream_params(account.access_token, "Again")
            first = await read_stream(client, params)
            await poll_until(lambda: _generation_forgotten(server, first.message_id))
            replay = await read_stream(client, params)
    assert len(model.calls) == 1
    assert first.types[-1] == "complete"
    # Told from the database as it streamed: the same events under the same ids.
    assert replay.payloads == first.payloads
    assert [e.id for e in replay.events] == [e.id for e in first.events]
    assert replay.chunk_text == model.full_text


def _resume(via: str, last_id: str, params: dict[str, str], token: str) -> dict[str, Any]:
    if via == "header":
        return {"params": params, "headers": {"Last-Event-ID": last_id}}
    # A client reopening by hand: a fresh stream token, the id in the query.
    return {"params": {**params, "token": token, "last_event_id": last_id}, "headers": {}}


@pytest.mark.parametrize("via", ["header", "query"])
async def test_reconnect_with_last_event_id_resumes_without_gaps_or_repeats(
    live_server_factory: AppFactory, database_url: str, via: str
) -> None:
    model = recording_model(words(40), delay_s=0.02)
    async with live_server_factory(model=model, stream_disconnect_grace_s=5) as server:
        async with server.client() as client:
            account = await new_account(client)
            params = stream_params(await stream_token(client, account), "Long answer please")
            cut = await read_stream(client, params, stop_after=7)
            assert not _generation_done(server, cut.message_id)  # resumed while in flight
            resume = _resume(
                via, cut.events[-1].id or "", params, await stream_token(client, account)
            )
            rest = await read_stream(client, resume["params"], headers=resume["headers"])
            cut_again = await read_stream(client, params, stop_after=3)
            after_finish = await read_stream(
                client, params, headers={"Last-Event-ID": cut_again.events[-1].id or ""}
            )
    assert len(model.calls) == 1
    assert cut.seqs == list(range(7))
    assert rest.seqs == list(range(7, 7 + len(rest.events)))
    assert rest.types[-1] == "complete"
    assert cut.chunk_text + rest.chunk_text == model.full_text
    assert after_finish.seqs == list(range(3, 42))
    assert cut_again.chunk_text + after_finish.chunk_text == model.full_text
    async with DbProbe(database_url) as db:
        stored = await db.message(cut.message_id)
    assert stored is not None and stored.status == "complete"
    assert stored.content == cut.chunk_text + rest.chunk_text


@pytest.mark.parametrize("buffer", ["retained", "forgotten"])
async def test_reconnect_after_the_terminal_event_gets_204(
    live_server_factory: AppFactory, buffer: str
) -> None:
    model = recording_model(words(4))
    ttl_s = 300 if buffer == "retained" else 0
    async with live_server_factory(model=model, stream_buffer_ttl_s=ttl_s) as server:
        async with server.client() as client:
            account = await new_account(client)
            params = stream_params(account.access_token)
            first = await read_stream(client, params)
            if buffer == "forgotten":
                await poll_until(lambda: _generation_forgotten(server, first.message_id))
            terminal_id = first.events[-1].id or ""
            by_header = await read_stream(client, params, headers={"Last-Event-ID": terminal_id})
            by_query = await read_stream(client, {**params, "last_event_id": terminal_id})
    assert first.types[-1] == "complete"
    assert terminal_id.endswith(":5")
    assert (by_header.status_code, by_query.status_code) == (204, 204)
    assert by_header.body == by_query.body == ""
    assert len(model.calls) == 1


async def test_reconnect_within_disconnect_grace_continues_the_generation(
    live_server_factory: AppFactory, database_url: str
) -> None:
    model = recording_model(words(40), delay_s=0.03)
    async with live_server_factory(model=model, stream_disconnect_grace_s=1.0) as server:
        async with server.client() as client:
            account = await new_account(client)
            params = stream_params(account.access_token)
            cut = await read_stream(client, params, stop_after=4)
            received = len(model.emitted)
            # The generation goes on alone: the model keeps producing with no reader attached.
            await poll_until(lambda: len(model.emitted) >= received + 3, timeout_s=0.9)
            rest = await read_stream(
                client, params, headers={"Last-Event-ID": cut.events[-1].id or ""}
            )
    assert rest.types[-1] == "complete"
    assert cut.chunk_text + rest.chunk_text == model.full_text
    assert not model.stopped_early
    async with DbProbe(database_url) as db:
        stored = await db.message(cut.message_id)
    assert stored is not None and stored.status == "complete"


@pytest.mark.parametrize("model_kind", ["paced", "stalled"])
async def test_generation_without_readers_is_interrupted_after_grace_keeping_partial_answer(
    live_server_factory: AppFactory, database_url: str, model_kind: str
) -> None:
    grace_s = 0.3
    if model_kind == "paced":
        model = recording_model(words(150), delay_s=0.02)
    else:  # a silent model must not hide the gone client
        model = recording_model(words(150), stall_after=3)
    async with live_server_factory(
        model=model, stream_disconnect_grace_s=grace_s, stream_idle_timeout_s=10
    ) as server:
        async with server.client() as client:
            account = await new_account(client)
            cut = await read_stream(client, stream_params(account.access_token), stop_after=4)
            cut_at = time.monotonic()
            async with DbProbe(database_url) as db:
                stored = await db.wait_for_message(cut.message_id, finished, timeout_s=10)
            settled_s = time.monotonic() - cut_at
            emitted_when_saved = len(model.emitted)
    assert stored.status == "interrupted"
    assert model.stopped_early
    assert len(model.emitted) == emitted_when_saved
    assert settled_s >= grace_s
    assert stored.chunk_count is not None and stored.chunk_count < 150
    assert stored.content == "".join(model.chunks[: stored.chunk_count])
    assert stored.content.startswith(cut.chunk_text)
    if model_kind == "paced":
        assert stored.chunk_count > len(cut.chunk_text.split()) + 2  # it went on during grace
    else:
        assert stored.chunk_count == 3


async def test_zero_disconnect_grace_still_streams_to_the_request_that_started_it(
    tmp_path: Path, sqlite_url: str
) -> None:
    model = recording_model(words(10), delay_s=0.01)
    settings = make_settings(tmp_path, database_url=sqlite_url, stream_disconnect_grace_s=0)
    async with live_server(settings, model) as server:
        async with server.client() as client:
            account = await new_account(client)
            reader = await read_stream(client, stream_params(account.access_token))
    assert reader.types[-1] == "complete"
    assert reader.chunk_text == model.full_text


async def test_new_client_message_id_starts_a_new_generation(
    live_server_factory: AppFactory,
) -> None:
    model = recording_model("Each send is its own answer.")
    async with live_server_factory(model=model) as server:
        async with server.client() as client:
            account = await new_account(client)
            params = stream_params(account.access_token, "Same words")
            first = await read_stream(client, params)
            second = await read_stream(client, {**params, "client_message_id": new_client_id()})
    assert len(model.calls) == 2
    assert first.message_id != second.message_id
