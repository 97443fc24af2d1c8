"""Stop on the server: cancel ends the generation at once and keeps the partial answer."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from tests.fixtures.accounts import new_account
from tests.fixtures.database import DbProbe
from tests.fixtures.models import recording_model, words
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import start_stream, stream_params

pytestmark = pytest.mark.timeout(60)


async def test_cancel_stops_generation_at_once_and_saves_partial_answer_as_cancelled(
    live_server_factory: AppFactory, database_url: str
) -> None:
    model = recording_model(words(200), delay_s=0.02)
    async with live_server_factory(model=model) as server:
        async with server.client() as client, server.client() as other_client:
            account = await new_account(client)
            reader, reading = start_stream(client, stream_params(account.access_token))
            await reader.wait_for_events(6)
            message_id = reader.message_id
            asked_at = time.monotonic()
            response = await other_client.post(
                f"/api/v1/chat/messages/{message_id}/cancel", headers=account.auth
            )
            answered_s = time.monotonic() - asked_at
            emitted_at_cancel = len(model.emitted)
            await asyncio.wait_for(reading, 10)
    assert response.status_code == 202, response.text
    assert response.json() == {
        "message_id": message_id,
        "status": "cancelled",
        "content": reader.chunk_text,
        "last_event_id": reader.events[-1].id,
    }
    assert answered_s < 1.0
    assert model.stopped_early
    assert len(model.emitted) == emitted_at_cancel < 200
    assert reader.ended_by_server
    assert reader.types[-1] == "error"
    assert reader.terminal["code"] == "cancelled"
    assert reader.terminal["retryable"] is False
    async with DbProbe(database_url) as db:
        stored = await db.message(message_id)
    assert stored is not None
    assert stored.status == "cancelled"
    assert stored.content == reader.chunk_text
    assert stored.content and model.full_text.startswith(stored.content)
    assert stored.chunk_count == reader.types.count("chunk")


async def test_cancelling_another_users_message_is_404_and_leaves_it_running(
    live_server_factory: AppFactory, database_url: str
) -> None:
    model = recording_model(words(30), delay_s=0.02)
    async with live_server_factory(model=model) as server:
        async with server.client() as client, server.client() as other_client:
            owner = await new_account(client)
            stranger = await new_account(other_client)
            reader, reading = start_stream(client, stream_params(owner.access_token))
            await reader.wait_for_events(2)
            foreign = await other_client.post(
                f"/api/v1/chat/messages/{reader.message_id}/cancel", headers=stranger.auth
            )
            absent = await other_client.post(
                f"/api/v1/chat/messages/{uuid.uuid4()}/cancel", headers=owner.auth
            )
            await asyncio.wait_for(reading, 10)
    assert foreign.status_code == 404
    assert foreign.json()["error"]["code"] == "not_found"
    assert absent.status_code == 404
    assert reader.types[-1] == "complete"
    assert reader.chunk_text == model.full_text
    async with DbProbe(database_url) as db:
        stored = await db.message(reader.message_id)
    assert stored is not None and stored.status == "complete"
