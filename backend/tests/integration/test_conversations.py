"""Conversations: listed by kind, renamed, deleted with their messages (an answer in flight
stopped first), and never another user's."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.fixtures.accounts import Account, new_account, new_client_id
from tests.fixtures.database import DbProbe
from tests.fixtures.models import recording_model, scripted_model, words
from tests.fixtures.server import AppFactory, assert_error

pytestmark = pytest.mark.timeout(60)


async def _send(client: httpx.AsyncClient, account: Account, message: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/chat/message",
        json={"message": message, "client_message_id": new_client_id()},
        headers=account.auth,
    )
    assert response.status_code == 200, response.text
    turn: dict[str, Any] = response.json()
    return turn


async def _conversations(
    client: httpx.AsyncClient, account: Account, **params: str
) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/chat/conversations", params=params, headers=account.auth)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _rename(client: httpx.AsyncClient, account: Account, conversation_id: str, title: Any) -> Any:
    return client.patch(
        f"/api/v1/chat/conversations/{conversation_id}",
        json={"title": title},
        headers=account.auth,
    )


async def test_the_list_holds_the_onboarding_conversation_unless_kind_filters_it(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=scripted_model("Answer.")) as h:
        account = await new_account(h.client)
        turn = await _send(h.client, account, "A first question")
        every = await _conversations(h.client, account)
        chats = await _conversations(h.client, account, kind="chat")
        onboarding = await _conversations(h.client, account, kind="onboarding")
    assert [c["id"] for c in chats] == [turn["conversation_id"]]
    assert len(onboarding) == 1 and onboarding[0]["kind"] == "onboarding"
    assert {c["id"] for c in every} == {chats[0]["id"], onboarding[0]["id"]}


async def test_rename_trims_the_title_and_keeps_the_conversations_place(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=scripted_model("Answer.")) as h:
        account = await new_account(h.client)
        older = await _send(h.client, account, "Older question")
        newer = await _send(h.client, account, "Newer question")
        response = await _rename(h.client, account, older["conversation_id"], "  Trip \n plans ")
        assert response.status_code == 200, response.text
        renamed = response.json()
        listed = await _conversations(h.client, account, kind="chat")
    assert renamed["id"] == older["conversation_id"]
    assert renamed["title"] == "Trip plans"
    assert [c["id"] for c in listed] == [newer["conversation_id"], older["conversation_id"]]
    assert listed[1]["title"] == "Trip plans"


@pytest.mark.parametrize(
    "title",
    ["", "   \n\t ", "\x00\x06", "x" * 201, 7, None],
    ids=["empty", "blank", "control", "too-long", "number", "null"],
)
async def test_rename_refuses_a_title_that_is_blank_too_long_or_not_text(
    app_factory: AppFactory, title: Any
) -> None:
    async with app_factory(model=scripted_model("Answer.")) as h:
        account = await new_account(h.client)
        turn = await _send(h.client, account, "Question")
        response = await _rename(h.client, account, turn["conversation_id"], title)
        [listed] = await _conversations(h.client, account, kind="chat")
    error = assert_error(response, 422, "validation_error")
    assert error["message"].startswith("title: ")
    assert listed["title"] == "Question"


async def test_rename_takes_two_hundred_characters(app_factory: AppFactory) -> None:
    async with app_factory(model=scripted_model("Answer.")) as h:
        account = await new_account(h.client)
        turn = await _send(h.client, account, "Question")
        response = await _rename(h.client, account, turn["conversation_id"], "é" * 200)
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "é" * 200


async def test_rename_and_delete_of_another_users_or_an_unknown_conversation_are_404(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=scripted_model("Answer.")) as h:
        owner = await new_account(h.client)
        stranger = await new_account(h.client)
        turn = await _send(h.client, owner, "Mine")
        theirs = turn["conversation_id"]
        unknown = str(uuid.uuid4())
        for conversation_id in (theirs, unknown):
            assert_error(
                await _rename(h.client, stranger, conversation_id, "Taken"), 404, "not_found"
            )
            deleted = await h.client.delete(
                f"/api/v1/chat/conversations/{conversation_id}", headers=stranger.auth
            )
            assert_error(deleted, 404, "not_found")
        [kept] = await _conversations(h.client, owner, kind="chat")
    assert kept["id"] == theirs and kept["title"] == "Mine"


async def test_delete_removes_the_conversation_and_its_messages(
    app_factory: AppFactory, database_url: str
) -> None:
    async with app_factory(model=scripted_model("Answer.")) as h:
        account = await new_account(h.client)
        gone = await _send(h.client, account, "Delete me")
        await _send(h.client, account, "Keep me")
        response = await h.client.delete(
            f"/api/v1/chat/conversations/{gone['conversation_id']}", headers=account.auth
        )
        assert response.status_code == 204, response.text
        assert response.content == b""
        listed = await _conversations(h.client, account, kind="chat")
        messages = await h.client.get(
            f"/api/v1/chat/conversations/{gone['conversation_id']}/messages", headers=account.auth
        )
        again = await h.client.delete(
            f"/api/v1/chat/conversations/{gone['conversation_id']}", headers=account.auth
        )
    assert [c["title"] for c in listed] == ["Keep me"]
    assert_error(messages, 404, "not_found")
    assert_error(again, 404, "not_found")
    async with DbProbe(database_url) as db:
        stored = await db.messages_of_user(account.id)
    removed = {gone["user_message"]["id"], gone["assistant_message"]["id"]}
    assert not removed & {str(m.id) for m in stored}
    # The onboarding greeting and the other conversation's turn are still there.
    assert {m.content for m in stored} >= {"Keep me", "Answer."}


async def test_delete_stops_an_answer_in_flight_first(
    app_factory: AppFactory, database_url: str
) -> None:
    model = recording_model(words(400), delay_s=0.02)
    async with app_factory(model=model) as h:
        account = await new_account(h.client)
        started = await h.client.post(
            "/api/v1/chat/turns",
            json={"message": "Write a lot", "client_message_id": new_client_id()},
            headers=account.auth,
        )
        assert started.status_code == 202, started.text
        turn = started.json()
        while len(model.emitted) < 5:
            await asyncio.sleep(0.02)
        response = await h.client.delete(
            f"/api/v1/chat/conversations/{turn['conversation_id']}", headers=account.auth
        )
        assert response.status_code == 204, response.text
        emitted_at_delete = len(model.emitted)
        await asyncio.sleep(0.3)
        assert model.stopped_early
        assert len(model.emitted) == emitted_at_delete < 400
        async with DbProbe(database_url) as db:
            assert await db.message(turn["assistant_message"]["id"]) is None
            assert await db.message(turn["user_message"]["id"]) is None
        listed = await _conversations(h.client, account, kind="chat")
    assert listed == []
