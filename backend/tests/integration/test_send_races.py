"""Sends of one client_message_id racing each other (issue: hardening, rows 9, 15, 16, 17).

Twenty at once, on SQLite and PostgreSQL, in one process and across two (scaled mode):
one question, one generation, and no rate limit spent by a repeat.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.streaming.redis_log import OWNERS_KEY
from tests.fixtures.accounts import Account, new_account, new_client_id
from tests.fixtures.database import DbProbe, finished
from tests.fixtures.models import directed_model, recording_model, words
from tests.fixtures.rate_limits import redis_target
from tests.fixtures.server import AppFactory, assert_error
from tests.fixtures.streams import ONBOARDING_STREAM_PATH, read_stream, stream_params
from tests.fixtures.waiting import poll_value

pytestmark = pytest.mark.asyncio

RACERS = 20


async def _send(
    client: httpx.AsyncClient, account: Account, body: dict[str, Any]
) -> httpx.Response:
    return await client.post("/api/v1/chat/message", json=body, headers=account.auth)


async def test_twenty_repeats_at_once_make_one_turn_and_spend_one_message(
    live_server_factory: AppFactory, database_url: str
) -> None:
    model = recording_model("One answer for all of them.", delay_s=0.01)
    limits = {"rate_limit_messages_per_hour": 3, "rate_limit_concurrent_streams": 2}
    async with live_server_factory(model=model, **limits) as server:
        async with server.client() as client:
            account = await new_account(client)
            body = {"message": "Once", "client_message_id": new_client_id()}
            responses = await asyncio.gather(*(_send(client, account, body) for _ in range(RACERS)))
            # Two more distinct messages fit in the hour: the repeats counted as one.
            for text in ("Two", "Three"):
                more = await _send(
                    client, account, {"message": text, "client_message_id": new_client_id()}
                )
                assert more.status_code == 200, more.text
    assert [r.status_code for r in responses] == [200] * RACERS
    answers = {r.json()["assistant_message"]["id"] for r in responses}
    assert len(answers) == 1
    assert len(model.calls) == 3
    async with DbProbe(database_url) as probe:
        stored = await probe.messages_of_user(account.id)
    chat = [m for m in stored if m.client_message_id == body["client_message_id"]]
    assert len(chat) == 1


async def test_twenty_retries_of_a_failed_answer_make_one_new_generation(
    live_server_factory: AppFactory, database_url: str
) -> None:
    # The first answer fails after two chunks; the retry's answer succeeds.
    model = recording_model(words(40), delay_s=0.01, fail_after=2, fail_times=1)
    async with live_server_factory(model=model) as server:
        async with server.client() as client:
            account = await new_account(client)
            params = stream_params(account.access_token, "Fails once")
            failed = await read_stream(client, params)
            assert failed.terminal["code"] == "llm_error"
            retries = await asyncio.gather(
                *(read_stream(client, {**params, "regenerate": "true"}) for _ in range(RACERS))
            )
    new_answers = {r.message_id for r in retries}
    assert len(new_answers) == 1 and failed.message_id not in new_answers
    async with DbProbe(database_url) as probe:
        stored = await probe.messages_of_user(account.id)
        replaced = await probe.message(failed.message_id)
    assert replaced is None  # the failed answer gave its place to exactly one new one
    questions = [m for m in stored if m.client_message_id == params["client_message_id"]]
    assert len(questions) == 1
    assert all(r.terminal["type"] == "complete" for r in retries)
    assert len(model.calls) == 2


async def test_repeats_across_two_processes_make_one_turn(
    sqlite_server_factory: AppFactory, sqlite_url: str
) -> None:
    model_text = "Across processes, once."
    with redis_target() as redis:
        async with (
            sqlite_server_factory(model=recording_model(model_text), redis_url=redis.url) as a,
            sqlite_server_factory(model=recording_model(model_text), redis_url=redis.url) as b,
        ):
            async with a.client() as client_a, b.client() as client_b:
                account = await new_account(client_a)
                body = {"message": "Once", "client_message_id": new_client_id()}
                clients = [client_a, client_b] * (RACERS // 2)
                responses = await asyncio.gather(*(_send(c, account, body) for c in clients))
    assert [r.status_code for r in responses] == [200] * RACERS
    assert len({r.json()["assistant_message"]["id"] for r in responses}) == 1
    async with DbProbe(sqlite_url) as probe:
        answer = await probe.wait_for_message(
            responses[0].json()["assistant_message"]["id"], finished
        )
    assert answer.content == model_text


async def test_a_repeat_after_its_ids_count_expired_spends_nothing_in_scaled_mode(
    sqlite_server_factory: AppFactory, sqlite_url: str
) -> None:
    """With Redis a new id is admitted (and its answer claimed) in the send lock's own call,
    before the look-up: a repeat that arrives after the id's count of turns has expired (a
    minute) is admitted ahead too, and must give it all back once it finds its turn. Past
    the hour's limit, such a repeat still gets its turn, not a 429."""
    limits = {"rate_limit_messages_per_hour": 2, "rate_limit_concurrent_streams": 1}
    with redis_target() as redis:
        store = Redis.from_url(redis.url, decode_responses=True)
        async with sqlite_server_factory(
            model=recording_model("Stored once."), redis_url=redis.url, **limits
        ) as server:
            async with server.client() as client:
                account = await new_account(client)
                redis.ids.append(account.id)
                body = {"message": "Once", "client_message_id": new_client_id()}
                first = await _send(client, account, body)
                answer_id = first.json()["assistant_message"]["id"]
                async with DbProbe(sqlite_url) as probe:
                    await probe.wait_for_message(answer_id, finished)
                writers = await poll_value(  # its log's end lets go of its lease
                    lambda: store.hkeys(OWNERS_KEY),  # type: ignore[arg-type]
                    lambda owned: answer_id not in owned,
                )
                count_key = f"chatstream:sent:{account.id}:{body['client_message_id']}"
                assert await store.delete(count_key) == 1  # as a minute later
                for _ in range(2):  # a repeat stores nothing: the count stays gone
                    repeat = await _send(client, account, body)
                    assert repeat.status_code == 200, repeat.text
                    assert repeat.json()["assistant_message"]["id"] == answer_id
                    assert await store.llen(f"LIMITS:LIMITER/{account.id}/2/1/hour") == 1  # type: ignore[misc]
                    assert await store.zcard(f"chatstream:streams:{account.id}") == 0
                    assert await store.hkeys(OWNERS_KEY) == writers  # type: ignore[misc]
                second = await _send(
                    client, account, {**body, "client_message_id": new_client_id()}
                )
                assert second.status_code == 200, second.text
                async with DbProbe(sqlite_url) as probe:
                    await probe.wait_for_message(second.json()["assistant_message"]["id"], finished)
                refused = await _send(
                    client, account, {**body, "client_message_id": new_client_id()}
                )
                assert_error(refused, 429, "rate_limited")
                await store.delete(count_key)
                past_the_limit = await _send(client, account, body)
                assert past_the_limit.status_code == 200, past_the_limit.text
                assert past_the_limit.json()["assistant_message"]["id"] == answer_id
        await store.aclose()


async def test_a_client_message_id_belongs_to_one_conversation_kind(
    sqlite_server_factory: AppFactory,
) -> None:
    async with sqlite_server_factory(model=directed_model("Fine.")) as server:
        async with server.client() as client:
            account = await new_account(client)
            before = (await client.get("/api/v1/onboarding", headers=account.auth)).json()
            chat = stream_params(account.access_token, "Call me Ada")
            await read_stream(client, chat)
            onboarding = await client.get(ONBOARDING_STREAM_PATH, params=chat)
            assert_error(onboarding, 409, "conflict")
            answered = await client.post(
                "/api/v1/chat/onboarding-message",
                json={"message": "Call me Ada", "client_message_id": chat["client_message_id"]},
                headers=account.auth,
            )
            assert_error(answered, 409, "conflict")
            state = (await client.get("/api/v1/onboarding", headers=account.auth)).json()
    # The chat turn did not answer an onboarding question.
    assert state["current_step"] == before["current_step"]
