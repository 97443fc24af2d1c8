"""Versions of the latest exchange: regenerate its answer whatever its status, edit and resend
its question, choose the version shown; the model reads only the chosen versions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from langchain_core.messages import BaseMessage

from tests.fixtures.accounts import Account, new_account, new_client_id
from tests.fixtures.models import recording_model
from tests.fixtures.server import AppFactory, assert_error
from tests.fixtures.streams import read_stream

pytestmark = pytest.mark.asyncio

ANSWER = "A steady answer in five words."


def _path(message_id: str, action: str) -> str:
    return f"/api/v1/chat/messages/{message_id}/{action}"


async def _send(
    client: httpx.AsyncClient, account: Account, text: str, conversation_id: str | None = None
) -> dict[str, Any]:
    """A whole turn (the non-streaming send), once its answer has ended."""
    body = {"message": text, "client_message_id": new_client_id()}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    response = await client.post("/api/v1/chat/message", json=body, headers=account.auth)
    assert response.status_code in (200, 502), response.text
    turn: dict[str, Any] = response.json()
    if response.status_code == 502:  # the answer failed; its turn is read from the history
        page = await _page(client, account, await _only_conversation(client, account))
        return {"conversation_id": page[0]["conversation_id"], "user_message": page[-2]}
    return turn


async def _only_conversation(client: httpx.AsyncClient, account: Account) -> str:
    listed = await client.get("/api/v1/chat/conversations?kind=chat", headers=account.auth)
    conversation_id: str = listed.json()["items"][0]["id"]
    return conversation_id


async def _page(
    client: httpx.AsyncClient, account: Account, conversation_id: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/chat/conversations/{conversation_id}/messages", headers=account.auth
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _post(
    client: httpx.AsyncClient, account: Account, message_id: str, action: str, **body: str
) -> httpx.Response:
    return await client.post(_path(message_id, action), json=body, headers=account.auth)


async def _read_to_end(client: httpx.AsyncClient, account: Account, answer_id: str) -> str:
    # A token to watch: reading an answer is no message, whatever the rate limits say.
    issued = await client.post(
        "/api/v1/chat/stream-token", params={"purpose": "watch"}, headers=account.auth
    )
    token = issued.json()["token"]
    reader = await read_stream(client, {"token": token}, path=_path(answer_id, "stream"))
    assert reader.terminal["type"] == "complete", reader.payloads
    return reader.chunk_text


def _said(call: list[BaseMessage]) -> list[tuple[str, str]]:
    return [(message.type, str(message.content)) for message in call if message.type != "system"]


async def test_regenerate_a_complete_answer_keeps_both_versions_and_repeats_do_not_generate(
    app_factory: AppFactory,
) -> None:
    model = recording_model(ANSWER)
    async with app_factory(model=model) as h:
        account = await new_account(h.client)
        first = await _send(h.client, account, "Tell me something")
        old = first["assistant_message"]
        client_id = new_client_id()

        started = await _post(
            h.client, account, old["id"], "regenerate", client_message_id=client_id
        )
        assert started.status_code == 202, started.text
        turn = started.json()
        new = turn["assistant_message"]
        assert turn["user_message"]["id"] == first["user_message"]["id"]
        assert new["id"] != old["id"] and new["client_message_id"] == client_id
        assert new["version_ids"] == [old["id"], new["id"]]
        assert await _read_to_end(h.client, account, new["id"]) == ANSWER
        assert len(model.calls) == 2

        again = await _post(h.client, account, old["id"], "regenerate", client_message_id=client_id)
        assert again.status_code == 202 and again.json()["assistant_message"]["id"] == new["id"]
        assert len(model.calls) == 2  # a repeat attaches to the answer it started

        items = await _page(h.client, account, first["conversation_id"])
        assert [m["id"] for m in items] == [first["user_message"]["id"], new["id"]]
        assert items[1]["version_ids"] == [old["id"], new["id"]]
        assert items[0]["version_ids"] == [first["user_message"]["id"]]

        chosen = await h.client.post(_path(old["id"], "choose"), headers=account.auth)
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["assistant_message"]["id"] == old["id"]
        items = await _page(h.client, account, first["conversation_id"])
        assert [m["id"] for m in items] == [first["user_message"]["id"], old["id"]]


async def test_a_failed_answer_regenerated_is_what_the_model_reads_next(
    app_factory: AppFactory,
) -> None:
    model = recording_model(ANSWER, fail_after=2, fail_times=1)
    async with app_factory(model=model) as h:
        account = await new_account(h.client)
        first = await _send(h.client, account, "First question")
        conversation_id = first["conversation_id"]
        failed = (await _page(h.client, account, conversation_id))[-1]
        assert failed["status"] == "error" and failed["content"] != ""

        started = await _post(
            h.client, account, failed["id"], "regenerate", client_message_id=new_client_id()
        )
        assert started.status_code == 202, started.text
        await _read_to_end(h.client, account, started.json()["assistant_message"]["id"])

        await _send(h.client, account, "Second question", conversation_id)
        assert _said(model.last_call) == [
            ("human", "First question"),
            ("ai", ANSWER),
            ("human", "Second question"),
        ]


async def test_edit_and_resend_keeps_the_earlier_question_and_its_answer(
    app_factory: AppFactory,
) -> None:
    model = recording_model(ANSWER)
    async with app_factory(model=model) as h:
        account = await new_account(h.client)
        first = await _send(h.client, account, "Before")
        conversation_id = first["conversation_id"]
        question, answer = first["user_message"], first["assistant_message"]
        client_id = new_client_id()

        edited = await _post(
            h.client, account, question["id"], "edit", message="After", client_message_id=client_id
        )
        assert edited.status_code == 202, edited.text
        turn = edited.json()
        assert turn["user_message"]["content"] == "After"
        assert turn["user_message"]["version_ids"] == [question["id"], turn["user_message"]["id"]]
        assert await _read_to_end(h.client, account, turn["assistant_message"]["id"]) == ANSWER
        assert _said(model.last_call) == [("human", "After")]  # the earlier version is not read

        repeat = await _post(
            h.client, account, question["id"], "edit", message="After", client_message_id=client_id
        )
        assert repeat.json()["assistant_message"]["id"] == turn["assistant_message"]["id"]
        reused = await _post(
            h.client, account, question["id"], "edit", message="Other", client_message_id=client_id
        )
        assert_error(reused, 409, "conflict")
        assert len(model.calls) == 2

        items = await _page(h.client, account, conversation_id)
        assert [m["content"] for m in items] == ["After", ANSWER]
        chosen = await h.client.post(_path(question["id"], "choose"), headers=account.auth)
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["assistant_message"]["id"] == answer["id"]
        items = await _page(h.client, account, conversation_id)
        assert [m["id"] for m in items] == [question["id"], answer["id"]]
        assert items[0]["version_ids"] == [question["id"], turn["user_message"]["id"]]

        await _send(h.client, account, "Next", conversation_id)
        assert _said(model.last_call) == [("human", "Before"), ("ai", ANSWER), ("human", "Next")]
        edited_id = turn["user_message"]["id"]
        found = await h.client.get("/api/v1/chat/search?q=after", headers=account.auth)
        hits = [hit["message_id"] for hit in found.json()["items"]]
        assert edited_id not in hits  # a version not chosen is not found
        found = await h.client.get("/api/v1/chat/search?q=before", headers=account.auth)
        assert question["id"] in [hit["message_id"] for hit in found.json()["items"]]


async def test_only_the_latest_exchange_gets_new_versions(app_factory: AppFactory) -> None:
    async with app_factory(model=recording_model(ANSWER)) as h:
        account = await new_account(h.client)
        first = await _send(h.client, account, "One")
        await _send(h.client, account, "Two", first["conversation_id"])
        regenerate = await _post(
            h.client,
            account,
            first["assistant_message"]["id"],
            "regenerate",
            client_message_id=new_client_id(),
        )
        assert_error(regenerate, 409, "not_latest_message")
        edit = await _post(
            h.client,
            account,
            first["user_message"]["id"],
            "edit",
            message="Uno",
            client_message_id=new_client_id(),
        )
        assert_error(edit, 409, "not_latest_message")


async def test_no_new_version_while_an_answer_is_being_written(app_factory: AppFactory) -> None:
    async with app_factory(model=recording_model(ANSWER, delay_s=0.5)) as h:
        account = await new_account(h.client)
        started = await h.client.post(
            "/api/v1/chat/turns",
            json={"message": "Slowly", "client_message_id": new_client_id()},
            headers=account.auth,
        )
        assert started.status_code == 202, started.text
        turn = started.json()
        answer_id = turn["assistant_message"]["id"]
        regenerate = await _post(
            h.client, account, answer_id, "regenerate", client_message_id=new_client_id()
        )
        assert_error(regenerate, 409, "answer_in_progress")
        edit = await _post(
            h.client,
            account,
            turn["user_message"]["id"],
            "edit",
            message="Faster",
            client_message_id=new_client_id(),
        )
        assert_error(edit, 409, "answer_in_progress")
        choose = await h.client.post(_path(answer_id, "choose"), headers=account.auth)
        assert_error(choose, 409, "answer_in_progress")
        stopped = await h.client.post(_path(answer_id, "cancel"), headers=account.auth)
        assert stopped.json()["status"] == "cancelled"

        # A stopped answer is regenerated like any other.
        again = await _post(
            h.client, account, answer_id, "regenerate", client_message_id=new_client_id()
        )
        assert again.status_code == 202, again.text


async def test_someone_elses_messages_are_not_found(app_factory: AppFactory) -> None:
    async with app_factory(model=recording_model(ANSWER)) as h:
        owner = await new_account(h.client)
        other = await new_account(h.client)
        turn = await _send(h.client, owner, "Mine")
        for message_id, action, body in [
            (turn["assistant_message"]["id"], "regenerate", {}),
            (turn["user_message"]["id"], "edit", {"message": "Theirs"}),
        ]:
            response = await _post(
                h.client, other, message_id, action, client_message_id=new_client_id(), **body
            )
            assert_error(response, 404, "not_found")
        choose = await h.client.post(
            _path(turn["assistant_message"]["id"], "choose"), headers=other.auth
        )
        assert_error(choose, 404, "not_found")
        # The user message is no answer to regenerate, the answer no question to edit.
        wrong = await _post(
            h.client,
            owner,
            turn["user_message"]["id"],
            "regenerate",
            client_message_id=new_client_id(),
        )
        assert_error(wrong, 404, "not_found")


async def test_bad_input_to_an_edit_is_refused_and_changes_nothing(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=recording_model(ANSWER), max_message_chars=20) as h:
        account = await new_account(h.client)
        turn = await _send(h.client, account, "Short")
        question_id = turn["user_message"]["id"]
        blank = await _post(
            h.client, account, question_id, "edit", message="  ", client_message_id=new_client_id()
        )
        assert_error(blank, 422, "empty_message")
        long = await _post(
            h.client, account, question_id, "edit", message="x" * 21, client_message_id="a b"
        )
        assert_error(long, 422, "validation_error")  # the id is checked with the body
        too_long = await _post(
            h.client, account, question_id, "edit", message="x" * 21, client_message_id="ok"
        )
        assert_error(too_long, 413, "message_too_long")
        items = await _page(h.client, account, turn["conversation_id"])
        assert [m["content"] for m in items] == ["Short", ANSWER]


async def test_a_regenerate_is_a_message_for_the_rate_limits(app_factory: AppFactory) -> None:
    async with app_factory(model=recording_model(ANSWER), rate_limit_messages_per_hour=2) as h:
        account = await new_account(h.client)
        turn = await _send(h.client, account, "Count me")
        started = await _post(
            h.client,
            account,
            turn["assistant_message"]["id"],
            "regenerate",
            client_message_id=new_client_id(),
        )
        assert started.status_code == 202, started.text
        new_id = started.json()["assistant_message"]["id"]
        await _read_to_end(h.client, account, new_id)
        refused = await _post(
            h.client, account, new_id, "regenerate", client_message_id=new_client_id()
        )
        assert_error(refused, 429, "rate_limited")
        items = await _page(h.client, account, turn["conversation_id"])
        assert items[-1]["id"] == new_id and len(items[-1]["version_ids"]) == 2


async def test_onboarding_answers_have_no_versions(app_factory: AppFactory) -> None:
    async with app_factory(model=recording_model(ANSWER)) as h:
        account = await new_account(h.client)
        response = await h.client.post(
            "/api/v1/chat/onboarding-message",
            json={"message": "Ada", "client_message_id": new_client_id()},
            headers=account.auth,
        )
        assert response.status_code == 200, response.text
        answer_id = response.json()["assistant_message"]["id"]
        refused = await _post(
            h.client, account, answer_id, "regenerate", client_message_id=new_client_id()
        )
        assert_error(refused, 409, "conflict")
