"""Answers that ended before their first chunk, and a repeat that waits while a retry replaces
its answer: three back-end bugs the send state machine found (tests/property/
test_send_state_machine.py), kept as regression tests.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

import httpx
import pytest
from sqlalchemy.orm import Session

from app.db.session import Database, UnitOfWork
from tests.fixtures.accounts import Account, new_account, new_client_id
from tests.fixtures.database import on_message_updates
from tests.fixtures.models import recording_model, words
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import assert_well_formed, event_seq, read_stream, stream_params

pytestmark = pytest.mark.asyncio

T = TypeVar("T")


async def _stopped_before_its_first_chunk(
    client: httpx.AsyncClient, account: Account
) -> dict[str, str]:
    """A send stopped before it arrived (`POST /chat/cancel` first): its answer is stored
    `cancelled` with no chunk. The send's stream parameters."""
    params = stream_params(account.access_token, "Never mind")
    stopped = await client.post(
        "/api/v1/chat/cancel",
        json={"client_message_id": params["client_message_id"]},
        headers=account.auth,
    )
    assert stopped.status_code == 202, stopped.text
    return params


async def test_continue_of_an_answer_stopped_before_its_first_chunk_numbers_on_from_its_end(
    live_server_factory: AppFactory,
) -> None:
    async with live_server_factory(model=recording_model(words(4))) as server:
        async with server.client() as client:
            account = await new_account(client)
            params = await _stopped_before_its_first_chunk(client, account)
            stopped = await read_stream(client, params)
            assert stopped.types == ["start", "error"]
            answer_id = stopped.message_id
            continued = await read_stream(
                client,
                {"token": account.access_token},
                path=f"/api/v1/chat/messages/{answer_id}/continue",
            )
    assert continued.status_code == 200, continued.body
    assert continued.types[0] == "start" and continued.terminal["type"] == "complete"
    # docs/api.md, "Continue": its start is the previous terminal's seq + 1.
    assert event_seq(continued.events[0]) == event_seq(stopped.events[-1]) + 1
    assert not {e.id for e in stopped.events} & {e.id for e in continued.events}


async def test_an_answer_that_ended_without_a_chunk_is_told_again_from_the_database(
    live_server_factory: AppFactory,
) -> None:
    # No buffer kept after the end: every later read is told from the database.
    async with live_server_factory(
        model=recording_model(words(4)), stream_buffer_ttl_s=0
    ) as server:
        async with server.client() as client:
            account = await new_account(client)
            params = await _stopped_before_its_first_chunk(client, account)
            stopped = await read_stream(client, params)
            await asyncio.sleep(0.1)  # the finished buffer is forgotten
            told_again = await read_stream(
                client,
                {"token": account.access_token},
                path=f"/api/v1/chat/messages/{stopped.message_id}/stream",
            )
            cancel = await client.post(
                f"/api/v1/chat/messages/{stopped.message_id}/cancel", headers=account.auth
            )
    assert told_again.status_code == 200, told_again.body
    assert_well_formed(told_again)
    assert told_again.types == ["start", "error"] and told_again.terminal["code"] == "cancelled"
    assert cancel.status_code == 202, cancel.text
    assert cancel.json()["last_event_id"] == stopped.events[-1].id


class HoldsTheReadAfterASave(Database):
    """The app's database; once `arm()`ed, the first unit of work to start after an answer's
    final save (an UPDATE of messages) waits until `let_go()`, as a slow read would."""

    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.armed = False
        self.saved = False
        self.holding = asyncio.Event()
        self._go = asyncio.Event()

    def arm(self) -> None:
        self.armed = True

    def let_go(self) -> None:
        self._go.set()

    async def run(self, work: UnitOfWork[T]) -> T:
        if not self.armed:
            return await self.inner.run(work)
        if self.saved:
            self.armed = False
            self.holding.set()
            await self._go.wait()
            return await self.inner.run(work)
        updates: list[str] = []

        def watched(session: Session) -> T:
            with on_message_updates(session, updates.append):
                return work(session)

        result = await self.inner.run(watched)
        self.saved = self.saved or bool(updates)
        return result

    async def dispose(self) -> None:
        await self.inner.dispose()


async def test_a_repeat_waiting_for_an_answer_a_retry_replaces_is_answered(
    live_server_factory: AppFactory, database_url: str
) -> None:
    database = HoldsTheReadAfterASave(Database.from_url(database_url))
    model = recording_model(words(40), delay_s=0.05)
    try:
        async with live_server_factory(
            model=model, database=database, stream_checkpoint_s=3600
        ) as server:
            async with server.client() as client:
                account = await new_account(client)
                body = {"message": "Wait for me", "client_message_id": new_client_id()}
                started = await client.post("/api/v1/chat/turns", json=body, headers=account.auth)
                answer_id = started.json()["assistant_message"]["id"]
                waiting = asyncio.create_task(
                    client.post("/api/v1/chat/message", json=body, headers=account.auth)
                )
                await asyncio.sleep(0.3)  # the repeat waits for the answer in flight
                database.arm()
                cancel = await client.post(
                    f"/api/v1/chat/messages/{answer_id}/cancel", headers=account.auth
                )
                assert cancel.json()["status"] == "cancelled", cancel.text
                await asyncio.wait_for(database.holding.wait(), 5)  # its read of the answer
                retry = await client.post(
                    "/api/v1/chat/turns", json={**body, "regenerate": True}, headers=account.auth
                )
                assert retry.json()["assistant_message"]["id"] != answer_id, retry.text
                database.let_go()
                repeat = await asyncio.wait_for(waiting, 10)
    finally:
        await database.dispose()
    assert repeat.status_code == 200, repeat.text
    assert repeat.json()["assistant_message"]["id"] in {
        answer_id,
        retry.json()["assistant_message"]["id"],
    }
    assert repeat.json()["user_message"]["client_message_id"] == body["client_message_id"]
