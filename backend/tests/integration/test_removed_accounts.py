"""A valid token of an account whose row is gone is a 401 on every endpoint, at once (no cached
user answers for it), and nothing is stored for it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import delete, func, select

from app.db.models import Conversation, Message, User
from tests.fixtures.accounts import bearer, new_account, new_client_id, stream_token
from tests.fixtures.server import AppFactory, assert_error


async def _delete_user(db: Any, user_id: uuid.UUID) -> None:
    await db.run(lambda session: session.execute(delete(User).where(User.id == user_id)))


async def _rows_of(db: Any, user_id: uuid.UUID) -> tuple[int, int]:
    def count(session: Any) -> tuple[int, int]:
        conversations = session.scalar(
            select(func.count()).select_from(Conversation).where(Conversation.user_id == user_id)
        )
        messages = session.scalar(
            select(func.count()).select_from(Message).where(Message.user_id == user_id)
        )
        return conversations, messages

    result: tuple[int, int] = await db.run(count)
    return result


async def test_every_endpoint_refuses_a_removed_accounts_tokens_with_401(
    app_factory: AppFactory,
) -> None:
    async with app_factory() as h:
        client: httpx.AsyncClient = h.client
        account = await new_account(client)
        # Used once first: whatever a process remembers about the account, it now remembers.
        sent = await client.post(
            "/api/v1/chat/message",
            json={"message": "Hello", "client_message_id": new_client_id()},
            headers=account.auth,
        )
        assert sent.status_code == 200, sent.text
        conversation_id = sent.json()["conversation_id"]
        answer_id = sent.json()["assistant_message"]["id"]
        assert (await client.get("/api/v1/users/me", headers=account.auth)).status_code == 200
        assert (await client.get("/api/v1/onboarding", headers=account.auth)).status_code == 200
        stream = await stream_token(client, account)

        await _delete_user(h.db, account.uuid)

        auth = account.auth
        message = {"message": "Still there?", "client_message_id": new_client_id()}
        requests: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", "/api/v1/users/me", {"headers": auth}),
            ("GET", "/api/v1/config", {"headers": auth}),
            ("GET", "/api/v1/onboarding", {"headers": auth}),
            ("POST", "/api/v1/chat/stream-token", {"headers": auth}),
            ("GET", "/api/v1/chat/conversations", {"headers": auth}),
            ("GET", f"/api/v1/chat/conversations/{conversation_id}/messages", {"headers": auth}),
            ("POST", "/api/v1/chat/message", {"json": message, "headers": auth}),
            ("POST", "/api/v1/chat/onboarding-message", {"json": message, "headers": auth}),
            ("POST", "/api/v1/chat/turns", {"json": message, "headers": auth}),
            ("POST", f"/api/v1/chat/messages/{answer_id}/cancel", {"headers": auth}),
            ("POST", "/api/v1/chat/cancel", {"json": {"client_message_id": "x"}, "headers": auth}),
        ]
        for token in (account.access_token, stream):
            query = {**message, "token": token}
            answer = f"/api/v1/chat/messages/{answer_id}"
            requests += [
                ("GET", "/api/v1/chat/stream", {"params": query}),
                ("GET", "/api/v1/chat/onboarding-stream", {"params": query}),
                ("GET", f"{answer}/stream", {"params": {"token": token}}),
                ("GET", f"{answer}/continue", {"params": {"token": token}}),
            ]
        answered = {}
        for method, path, kwargs in requests:
            response = await client.request(method, path, **kwargs)
            answered[f"{method} {path}"] = response.status_code
            if response.status_code == 401:
                assert_error(response, 401, "unauthorized")
        assert set(answered.values()) == {401}, answered
        assert await _rows_of(h.db, account.uuid) == (0, 0)


async def test_a_new_account_with_the_same_email_is_not_reached_by_the_old_token(
    app_factory: AppFactory,
) -> None:
    async with app_factory() as h:
        account = await new_account(h.client)
        assert (await h.client.get("/api/v1/users/me", headers=account.auth)).status_code == 200
        await _delete_user(h.db, account.uuid)
        again = await h.client.post(
            "/api/v1/auth/register", json={"email": account.email, "password": account.password}
        )
        assert again.status_code == 201, again.text
        assert again.json()["id"] != account.id
        me = await h.client.get("/api/v1/users/me", headers=bearer(account.access_token))
        assert_error(me, 401, "unauthorized")
