"""What a stream stores: the question before the model runs, the answer byte for byte at the end."""

from __future__ import annotations

import asyncio

import pytest

from tests.fixtures.accounts import new_account
from tests.fixtures.database import DbProbe, StoredMessage
from tests.fixtures.models import RecordingModel, recording_model
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import read_stream, start_stream, stream_params
from tests.fixtures.waiting import poll_until

pytestmark = pytest.mark.timeout(60)

TRICKY_TEXT = (
    "Line one\r\nLine two\rthree\n\ndata: not an event\nid: not-an-id\n: not a comment\n"
    "retry: 1\n  indented\ttab — ünïcödé 中文 العربية 🎉👩‍💻 \u2028sep\u2029 end "
)


async def test_user_message_is_saved_before_the_model_is_called(
    live_server_factory: AppFactory, database_url: str
) -> None:
    model = recording_model("never finished", stall_after=0)
    seen_at_call: list[list[StoredMessage]] = []
    async with (
        DbProbe(database_url) as db,
        live_server_factory(model=model, stream_idle_timeout_s=30) as server,
    ):
        async with server.client() as client:
            account = await new_account(client)

            async def snapshot() -> None:
                seen_at_call.append(await db.messages_of_user(account.id))

            model.on_call = snapshot
            reader, reading = start_stream(
                client, stream_params(account.access_token, "My question?")
            )
            await reader.wait_for_events(1)
            await poll_until(lambda: len(seen_at_call) == 1)  # the model has been called
            while_generating = await db.messages_of_user(account.id)
            await client.post(
                f"/api/v1/chat/messages/{reader.message_id}/cancel", headers=account.auth
            )
            await asyncio.wait_for(reading, 10)
    assert len(seen_at_call) == 1
    at_call = [(m.role, m.content, m.status) for m in seen_at_call[0]]
    # The onboarding greeting, then this turn: the question stored, its answer still empty.
    assert at_call[1:] == [("user", "My question?", "complete"), ("assistant", "", "streaming")]
    assert str(seen_at_call[0][2].id) == reader.message_id
    assert [(m.role, m.status) for m in while_generating[1:]] == [
        ("user", "complete"),
        ("assistant", "streaming"),
    ]
    assert reader.terminal["code"] == "cancelled"


async def test_answer_is_saved_at_the_end_with_metrics_and_exactly_the_streamed_text(
    live_server_factory: AppFactory, database_url: str
) -> None:
    model = recording_model(TRICKY_TEXT, delay_s=0.01)
    async with live_server_factory(model=model) as server:
        async with server.client() as client:
            account = await new_account(client)
            reader = await read_stream(client, stream_params(account.access_token, "Tricky?"))
            page = await client.get(
                f"/api/v1/chat/conversations/{reader.payloads[0]['conversation_id']}/messages",
                headers=account.auth,
            )
    assert reader.types[-1] == "complete"
    async with DbProbe(database_url) as db:
        stored = await db.message(reader.message_id)
    assert stored is not None
    assert stored.status == "complete" and stored.error_code is None
    assert stored.content.encode() == reader.chunk_text.encode() == TRICKY_TEXT.encode()
    assert stored.chunk_count == reader.types.count("chunk") == len(model.chunks)
    assert stored.ttft_ms is not None and 5 <= stored.ttft_ms <= stored.duration_ms
    assert stored.duration_ms is not None
    assert stored.duration_ms >= 0.8 * 10 * len(model.chunks)
    # What the API gives back to a reloaded page is the same text.
    assert page.json()["items"][-1]["content"] == TRICKY_TEXT
    assert page.json()["items"][-1]["status"] == "complete"


async def test_nul_from_the_model_is_dropped_so_the_streamed_text_is_what_is_stored(
    live_server_factory: AppFactory, database_url: str
) -> None:
    model = RecordingModel(chunks=["a\x00b ", "\x00", "c\x00"], delay_s=0.0)
    async with live_server_factory(model=model) as server:
        async with server.client() as client:
            account = await new_account(client)
            reader = await read_stream(client, stream_params(account.access_token))
    assert reader.types == ["start", "chunk", "chunk", "complete"]
    assert reader.chunk_text == "ab c"
    async with DbProbe(database_url) as db:
        stored = await db.message(reader.message_id)
    assert stored is not None
    assert (stored.status, stored.content, stored.chunk_count) == ("complete", "ab c", 2)


async def test_message_with_a_nul_character_is_refused_with_422_before_anything_is_stored(
    live_server_factory: AppFactory, database_url: str
) -> None:
    model = recording_model("unused")
    async with live_server_factory(model=model) as server:
        async with server.client() as client:
            account = await new_account(client)
            streamed = await read_stream(client, stream_params(account.access_token, "a\x00b"))
            posted = await client.post(
                "/api/v1/chat/message",
                json={"message": "a\x00b", "client_message_id": "nul-1"},
                headers=account.auth,
            )
    assert (streamed.status_code, posted.status_code) == (422, 422)
    assert posted.json()["error"]["code"] == "invalid_message"
    assert '"code":"invalid_message"' in streamed.body
    assert len(model.calls) == 0
    async with DbProbe(database_url) as db:
        assert [m.role for m in await db.messages_of_user(account.id)] == ["assistant"]
