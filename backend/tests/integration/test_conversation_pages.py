"""The conversation list a page at a time (newest activity first, `before` the last one
shown), and one conversation by its id: never another user's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.fixtures.accounts import Account, new_account, new_client_id
from tests.fixtures.database import DbProbe
from tests.fixtures.models import scripted_model
from tests.fixtures.server import AppFactory, assert_error

pytestmark = pytest.mark.timeout(60)


async def _new_conversation(client: httpx.AsyncClient, account: Account, text: str) -> str:
    response = await client.post(
        "/api/v1/chat/message",
        json={"message": text, "client_message_id": new_client_id()},
        headers=account.auth,
    )
    assert response.status_code == 200, response.text
    conversation_id: str = response.json()["conversation_id"]
    return conversation_id


async def _page(
    client: httpx.AsyncClient, account: Account, **params: str | int
) -> tuple[list[str], bool]:
    response = await client.get("/api/v1/chat/conversations", params=params, headers=account.auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return [c["id"] for c in body["items"]], body["has_more"]


async def _every_page(
    client: httpx.AsyncClient, account: Account, limit: int
) -> tuple[list[str], list[bool]]:
    """Walk the chat conversations page by page, as the sidebar does while scrolling."""
    seen: list[str] = []
    more_flags: list[bool] = []
    params: dict[str, str | int] = {"kind": "chat", "limit": limit}
    while True:
        ids, has_more = await _page(client, account, **params)
        seen += ids
        more_flags.append(has_more)
        if not has_more:
            return seen, more_flags
        params["before"] = ids[-1]


async def test_pages_walk_the_whole_list_once_newest_first(app_factory: AppFactory) -> None:
    async with app_factory(model=scripted_model("Answer.")) as h:
        account = await new_account(h.client)
        started = [await _new_conversation(h.client, account, f"Question {i}") for i in range(7)]
        walked, more_flags = await _every_page(h.client, account, limit=3)
        whole, whole_has_more = await _page(h.client, account, kind="chat", limit=200)
        both_kinds, _ = await _page(h.client, account)
    assert walked == whole == list(reversed(started))
    assert more_flags == [True, True, False] and whole_has_more is False
    assert len(both_kinds) == 8  # the onboarding conversation too


async def test_conversations_with_the_same_time_are_paged_by_id_none_lost_or_repeated(
    app_factory: AppFactory, database_url: str
) -> None:
    async with app_factory(model=scripted_model("Answer.")) as h:
        account = await new_account(h.client)
        started = [await _new_conversation(h.client, account, f"Question {i}") for i in range(5)]
        async with DbProbe(database_url) as db:
            await db.set_conversations_updated_at(account.id, datetime(2026, 1, 1, tzinfo=UTC))
        walked, more_flags = await _every_page(h.client, account, limit=2)
    assert walked == sorted(started, key=uuid.UUID, reverse=True)
    assert more_flags == [True, True, False]


async def test_a_conversation_with_new_activity_moves_to_the_first_page(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=scripted_model("Answer.")) as h:
        account = await new_account(h.client)
        oldest, middle, newest = [
            await _new_conversation(h.client, account, f"Question {i}") for i in range(3)
        ]
        first, _ = await _page(h.client, account, kind="chat", limit=2)
        response = await h.client.post(
            "/api/v1/chat/message",
            json={
                "message": "Back to the first",
                "client_message_id": new_client_id(),
                "conversation_id": oldest,
            },
            headers=account.auth,
        )
        assert response.status_code == 200, response.text
        again, has_more = await _page(h.client, account, kind="chat", limit=2)
        rest, _ = await _page(h.client, account, kind="chat", limit=2, before=again[-1])
    assert first == [newest, middle]
    assert again == [oldest, newest] and has_more is True
    assert rest == [middle]


async def test_the_default_page_is_fifty_and_a_limit_out_of_range_is_refused(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=scripted_model("Answer.")) as h:
        account = await new_account(h.client)
        await _new_conversation(h.client, account, "Question")
        for limit in ("0", "201", "many"):
            response = await h.client.get(
                "/api/v1/chat/conversations", params={"limit": limit}, headers=account.auth
            )
            assert_error(response, 422, "validation_error")
        ids, has_more = await _page(h.client, account)
    assert len(ids) == 2 and has_more is False


async def test_a_page_before_another_users_or_an_unknown_conversation_is_404(
    app_factory: AppFactory,
) -> None:
    async with app_factory(model=scripted_model("Answer.")) as h:
        owner = await new_account(h.client)
        stranger = await new_account(h.client)
        theirs = await _new_conversation(h.client, owner, "Mine")
        for before in (theirs, str(uuid.uuid4())):
            response = await h.client.get(
                "/api/v1/chat/conversations", params={"before": before}, headers=stranger.auth
            )
            assert_error(response, 404, "not_found")
            assert "before" in response.json()["error"]["message"]
        malformed = await h.client.get(
            "/api/v1/chat/conversations", params={"before": "yesterday"}, headers=stranger.auth
        )
        assert_error(malformed, 422, "validation_error")


async def test_one_conversation_by_id_is_the_owners_alone(app_factory: AppFactory) -> None:
    async with app_factory(model=scripted_model("Answer.")) as h:
        owner = await new_account(h.client)
        stranger = await new_account(h.client)
        conversation_id = await _new_conversation(h.client, owner, "What is a cursor?")
        response = await h.client.get(
            f"/api/v1/chat/conversations/{conversation_id}", headers=owner.auth
        )
        listed = (
            await h.client.get(
                "/api/v1/chat/conversations", params={"kind": "chat"}, headers=owner.auth
            )
        ).json()["items"]
        for someone, wanted in ((stranger, conversation_id), (owner, str(uuid.uuid4()))):
            assert_error(
                await h.client.get(f"/api/v1/chat/conversations/{wanted}", headers=someone.auth),
                404,
                "not_found",
            )
        unsigned = await h.client.get(f"/api/v1/chat/conversations/{conversation_id}")
    assert response.status_code == 200, response.text
    assert response.json() == listed[0]
    assert response.json()["kind"] == "chat"
    assert unsigned.status_code == 401
