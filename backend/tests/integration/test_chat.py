"""Non-streaming chat: conversations, history, paging, ownership, idempotency, model failures."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from tests.fixtures.accounts import bearer, new_client_id, new_user_token
from tests.fixtures.models import recording_model, scripted_model
from tests.fixtures.server import AppFactory, assert_error


async def _send(
    client: httpx.AsyncClient,
    token: str,
    message: str,
    conversation_id: str | None = None,
    client_message_id: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "message": message,
        "client_message_id": client_message_id or new_client_id(),
    }
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    return await client.post("/api/v1/chat/message", json=body, headers=bearer(token))


async def _messages(
    client: httpx.AsyncClient, token: str, conversation_id: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        f"/api/v1/chat/conversations/{conversation_id}/messages",
        params=params,
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def _chat_conversations(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/chat/conversations", params={"kind": "chat"}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_first_message_creates_a_conversation(app_factory: AppFactory) -> None:
    async with app_factory(model=scripted_model("Hello there.")) as h:
        token = await new_user_token(h.client)
        response = await _send(h.client, token, "What is SSE?\nIn short.")
        assert response.status_code == 200, response.text
        turn = response.json()
        user, answer = turn["user_message"], turn["assistant_message"]
        assert user["role"] == "user" and user["content"] == "What is SSE?\nIn short."
        assert answer["role"] == "assistant" and answer["content"] == "Hello there."
        assert answer["status"] == "complete" and answer["completed_at"] is not None
        assert user["conversation_id"] == answer["conversation_id"] == turn["conversation_id"]
        [conversation] = await _chat_conversations(h.client, token)
        assert conversation["id"] == turn["conversation_id"]
        assert conversation["title"] == "What is SSE? In short."


async def test_message_with_conversation_id_continues_it_with_history(
    app_factory: AppFactory,
) -> None:
    model = recording_model("Answer.")
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client)
        first = (await _send(h.client, token, "First question")).json()
        conversation_id = first["conversation_id"]
        second = await _send(h.client, token, "Second question", conversation_id)
        assert second.status_code == 200, second.text
        assert second.json()["conversation_id"] == conversation_id

        system, *history = model.last_call
        assert isinstance(system, SystemMessage)
        assert history == [
            HumanMessage("First question"),
            AIMessage("Answer."),
            HumanMessage("Second question"),
        ]
        assert len(await _chat_conversations(h.client, token)) == 1
        page = await _messages(h.client, token, conversation_id)
        assert [m["content"] for m in page["items"]] == [
            "First question",
            "Answer.",
            "Second question",
            "Answer.",
        ]


async def test_conversations_are_listed_newest_first(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        token = await new_user_token(h.client)
        older = (await _send(h.client, token, "older")).json()["conversation_id"]
        newer = (await _send(h.client, token, "newer")).json()["conversation_id"]
        assert [c["id"] for c in await _chat_conversations(h.client, token)] == [newer, older]

        # A new message moves a conversation back to the top.
        await _send(h.client, token, "again", older)
        assert [c["id"] for c in await _chat_conversations(h.client, token)] == [older, newer]

        everything = (
            await h.client.get("/api/v1/chat/conversations", headers=bearer(token))
        ).json()["items"]
        assert [c["kind"] for c in everything] == ["chat", "chat", "onboarding"]
        onboarding = await h.client.get(
            "/api/v1/chat/conversations", params={"kind": "onboarding"}, headers=bearer(token)
        )
        assert [c["kind"] for c in onboarding.json()["items"]] == ["onboarding"]
        bad_kind = await h.client.get(
            "/api/v1/chat/conversations", params={"kind": "secret"}, headers=bearer(token)
        )
        assert_error(bad_kind, 422, "validation_error")


async def test_messages_are_paged_oldest_first_with_before_and_limit(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=scripted_model("ok")) as h:
        token = await new_user_token(h.client)
        conversation_id = (await _send(h.client, token, "m1")).json()["conversation_id"]
        for text in ("m2", "m3"):
            await _send(h.client, token, text, conversation_id)
        expected = ["m1", "ok", "m2", "ok", "m3", "ok"]

        whole = await _messages(h.client, token, conversation_id)
        assert [m["content"] for m in whole["items"]] == expected
        assert whole["has_more"] is False
        created = [m["created_at"] for m in whole["items"]]
        assert created == sorted(created)

        latest = await _messages(h.client, token, conversation_id, limit=4)
        assert [m["content"] for m in latest["items"]] == expected[2:]
        assert latest["has_more"] is True

        earlier = await _messages(
            h.client, token, conversation_id, limit=4, before=latest["items"][0]["id"]
        )
        assert [m["content"] for m in earlier["items"]] == expected[:2]
        assert earlier["has_more"] is False

        exact = await _messages(
            h.client, token, conversation_id, limit=2, before=latest["items"][0]["id"]
        )
        assert [m["content"] for m in exact["items"]] == expected[:2]
        assert exact["has_more"] is False

        ids = {m["id"] for m in latest["items"]} | {m["id"] for m in earlier["items"]}
        assert ids == {m["id"] for m in whole["items"]}


async def test_bad_paging_parameters_are_refused(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        token = await new_user_token(h.client)
        first = (await _send(h.client, token, "first")).json()
        second = (await _send(h.client, token, "second")).json()
        url = f"/api/v1/chat/conversations/{first['conversation_id']}/messages"
        for params in ({"limit": 0}, {"limit": 201}, {"before": "not-a-uuid"}):
            response = await h.client.get(url, params=params, headers=bearer(token))
            assert_error(response, 422, "validation_error")
        foreign_cursor = {"before": second["user_message"]["id"]}
        response = await h.client.get(url, params=foreign_cursor, headers=bearer(token))
        assert_error(response, 404, "not_found")


async def test_another_users_conversation_is_not_found(app_factory: AppFactory) -> None:
    model = recording_model("private")
    async with app_factory(model=model) as h:
        owner = await new_user_token(h.client)
        intruder = await new_user_token(h.client)
        conversation_id = (await _send(h.client, owner, "my secret")).json()["conversation_id"]

        listing = await h.client.get(
            f"/api/v1/chat/conversations/{conversation_id}/messages", headers=bearer(intruder)
        )
        assert_error(listing, 404, "not_found")
        absent = await h.client.get(
            f"/api/v1/chat/conversations/{'0' * 8}-0000-4000-8000-{'0' * 12}/messages",
            headers=bearer(intruder),
        )
        assert absent.json() == listing.json()  # "not yours" and "absent" look the same

        post = await _send(h.client, intruder, "let me in", conversation_id)
        assert_error(post, 404, "not_found")
        assert len(model.calls) == 1  # the intruder's message never reached the model
        assert await _chat_conversations(h.client, intruder) == []
        page = await _messages(h.client, owner, conversation_id)
        assert [m["content"] for m in page["items"]] == ["my secret", "private"]


async def test_onboarding_conversation_cannot_take_chat_messages(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        token = await new_user_token(h.client)
        onboarding = (await h.client.get("/api/v1/onboarding", headers=bearer(token))).json()
        response = await _send(h.client, token, "hi", onboarding["conversation_id"])
        assert_error(response, 404, "not_found")


# Idempotency ----------------------------------------------------------------------------------


async def test_same_client_message_id_returns_the_first_result_without_a_second_call(
    app_factory: AppFactory,
) -> None:
    model = recording_model("Only once.")
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client)
        client_id = new_client_id()
        first = await _send(h.client, token, "Hello", client_message_id=client_id)
        again = await _send(h.client, token, "Hello", client_message_id=client_id)
        assert first.status_code == again.status_code == 200
        assert again.json() == first.json()
        assert len(model.calls) == 1
        page = await _messages(h.client, token, first.json()["conversation_id"])
        assert len(page["items"]) == 2


async def test_concurrent_sends_with_one_client_message_id_call_the_model_once(
    app_factory: AppFactory,
) -> None:
    model = recording_model("Only once.", delay_s=0.01)
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client)
        client_id = new_client_id()
        responses = await asyncio.gather(
            *(_send(h.client, token, "Hello", client_message_id=client_id) for _ in range(3))
        )
        assert [r.status_code for r in responses] == [200, 200, 200]
        bodies = [r.json() for r in responses]
        assert bodies[0] == bodies[1] == bodies[2]
        assert len(model.calls) == 1


async def test_same_client_message_id_with_other_text_is_a_conflict(
    app_factory: AppFactory,
) -> None:
    model = recording_model("Only once.")
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client)
        client_id = new_client_id()
        assert (await _send(h.client, token, "Hello", client_message_id=client_id)).is_success
        other = await _send(h.client, token, "Goodbye", client_message_id=client_id)
        assert_error(other, 409, "conflict")
        assert len(model.calls) == 1


async def test_client_message_ids_belong_to_their_user(app_factory: AppFactory) -> None:
    model = recording_model("Yours.")
    async with app_factory(model=model) as h:
        alice = await new_user_token(h.client)
        bob = await new_user_token(h.client)
        client_id = new_client_id()
        first = await _send(h.client, alice, "Hello", client_message_id=client_id)
        second = await _send(h.client, bob, "Hello", client_message_id=client_id)
        assert first.status_code == second.status_code == 200
        assert first.json()["conversation_id"] != second.json()["conversation_id"]
        assert len(model.calls) == 2


# A model that fails ---------------------------------------------------------------------------


async def test_model_failing_at_once_gives_502_and_keeps_the_user_message(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=scripted_model("never said", fail_after=0)) as h:
        token = await new_user_token(h.client)
        response = await _send(h.client, token, "Are you there?")
        assert_error(response, 502, "llm_error")

        [conversation] = await _chat_conversations(h.client, token)
        user, answer = (await _messages(h.client, token, conversation["id"]))["items"]
        assert (user["role"], user["content"], user["status"]) == (
            "user",
            "Are you there?",
            "complete",
        )
        assert (answer["role"], answer["status"], answer["error_code"]) == (
            "assistant",
            "error",
            "llm_error",
        )
        assert answer["content"] == ""
        assert answer["completed_at"] is not None


async def test_model_failing_midway_keeps_the_partial_answer_as_error(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=scripted_model("one two three four", fail_after=2)) as h:
        token = await new_user_token(h.client)
        response = await _send(h.client, token, "Count")
        assert_error(response, 502, "llm_error")
        [conversation] = await _chat_conversations(h.client, token)
        user, answer = (await _messages(h.client, token, conversation["id"]))["items"]
        assert user["content"] == "Count"
        assert (answer["status"], answer["content"]) == ("error", "one two ")


async def test_failed_answer_is_not_history_for_the_next_turn(app_factory: AppFactory) -> None:
    failing = recording_model("half an answer", fail_after=1)
    async with app_factory(model=failing) as h:
        token = await new_user_token(h.client)
        assert (await _send(h.client, token, "First")).status_code == 502
        [conversation] = await _chat_conversations(h.client, token)
        failing.fail_after = None
        second = await _send(h.client, token, "Second", conversation["id"])
        assert second.status_code == 200, second.text
        _system, *history = failing.last_call
        assert history[0] == HumanMessage("First")
        assert history[-1] == HumanMessage("Second")
