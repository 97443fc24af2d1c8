"""Text no database can store (a lone UTF-16 surrogate, a NUL) is refused with a 422 wherever
it arrives, or (in a display name) stored without it, on SQLite and PostgreSQL alike: never a
5xx, and nothing of a refused request is stored."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.accounts import bearer, login, new_account, new_client_id, register
from tests.fixtures.models import recording_model
from tests.fixtures.server import AppFactory, AppHarness, assert_error

SEND_ENDPOINTS = ["/api/v1/chat/message", "/api/v1/chat/onboarding-message", "/api/v1/chat/turns"]
# As they travel in JSON: escapes of half a surrogate pair, alone or among other text.
LONE_SURROGATES = ["\\ud800", "\\udfff", "a\\udc00b", "\\udc00\\ud800", "😀\\ud83d"]


def _json_with_escape(message: str, client_message_id: str) -> bytes:
    # json.dumps would escape the backslash of `\ud800`; the escape itself must reach the server.
    return b'{"message": "%s", "client_message_id": "%s"}' % (
        message.encode(),
        client_message_id.encode(),
    )


async def _my_messages(h: AppHarness, token: str) -> list[str]:
    client = h.client
    texts = []
    conversations = (await client.get("/api/v1/chat/conversations", headers=bearer(token))).json()
    for conversation in conversations["items"]:
        page = await client.get(
            f"/api/v1/chat/conversations/{conversation['id']}/messages", headers=bearer(token)
        )
        texts += [message["content"] for message in page.json()["items"]]
    return texts


@pytest.mark.parametrize("endpoint", SEND_ENDPOINTS)
async def test_a_lone_surrogate_in_a_message_is_422_invalid_message(
    app_factory: AppFactory, endpoint: str
) -> None:
    model = recording_model("ok")
    async with app_factory(model=model) as h:
        account = await new_account(h.client)
        before = await _my_messages(h, account.access_token)
        for text in LONE_SURROGATES:
            response = await h.client.post(
                endpoint,
                content=_json_with_escape(text, new_client_id()),
                headers={**account.auth, "Content-Type": "application/json"},
            )
            message = assert_error(response, 422, "invalid_message")["message"]
            assert "surrogate" in message, message
        assert model.calls == []
        assert await _my_messages(h, account.access_token) == before


@pytest.mark.parametrize("endpoint", SEND_ENDPOINTS)
async def test_a_whole_surrogate_pair_is_an_ordinary_character(
    app_factory: AppFactory, endpoint: str
) -> None:
    async with app_factory(model=recording_model("ok")) as h:
        account = await new_account(h.client)
        response = await h.client.post(
            endpoint,
            content=_json_with_escape("smile \\ud83d\\ude00", new_client_id()),
            headers={**account.auth, "Content-Type": "application/json"},
        )
        assert response.status_code in (200, 202), response.text
        assert response.json()["user_message"]["content"] == "smile 😀"


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("Ada\\u0000", "Ada"),
        ("A\\u0000da", "Ada"),
        ("\\u0000", None),
        ("A\\u0007da", "Ada"),
        ("Ada\\u001b[31m Lovelace", "Ada[31m Lovelace"),
        ("Ada \\u0000 \\u0085 Lovelace", "Ada Lovelace"),
    ],
)
async def test_control_characters_in_a_display_name_are_dropped(
    app_factory: AppFactory, name: str, stored: str | None
) -> None:
    async with app_factory() as h:
        email = f"{new_client_id()}@example.com"
        body = json.dumps({"email": email, "password": "long enough pw", "display_name": "NAME"})
        response = await h.client.post(
            "/api/v1/auth/register",
            content=body.replace('"NAME"', f'"{name}"').encode(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["display_name"] == stored
        token = await login(h.client, email, "long enough pw")
        me = await h.client.get("/api/v1/users/me", headers=bearer(token))
        assert me.json()["display_name"] == stored


@pytest.mark.parametrize("name", ["\\ud800", "Ada\\udc00"])
async def test_a_display_name_with_a_lone_surrogate_is_422(
    app_factory: AppFactory, name: str
) -> None:
    async with app_factory() as h:
        email = f"{new_client_id()}@example.com"
        body = json.dumps({"email": email, "password": "long enough pw", "display_name": "NAME"})
        response = await h.client.post(
            "/api/v1/auth/register",
            content=body.replace('"NAME"', f'"{name}"').encode(),
            headers={"Content-Type": "application/json"},
        )
        error = assert_error(response, 422, "validation_error")
        assert "display_name" in error["message"], error
        # Nothing stored: the address is still free.
        assert (await register(h.client, email=email))["email"] == email


async def test_whitespace_in_a_display_name_is_folded_not_refused(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        email = f"{new_client_id()}@example.com"
        response = await h.client.post(
            "/api/v1/auth/register",
            json={
                "email": email,
                "password": "long enough pw",
                "display_name": " Ada\t\n Lovelace ",
            },
        )
        assert response.status_code == 201, response.text
        assert response.json()["display_name"] == "Ada Lovelace"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "a\\ud800@example.com"),
        ("email", "a\\u0000@example.com"),
        ("password", "long \\ud800 pw"),
    ],
)
async def test_a_surrogate_or_nul_in_the_other_registration_fields_is_422(
    app_factory: AppFactory, field: str, value: str
) -> None:
    async with app_factory() as h:
        fields = {"email": "EMAIL", "password": "PASSWORD", "display_name": "Ada"}
        fields[field] = "VALUE"
        body = json.dumps(fields).replace('"VALUE"', f'"{value}"')
        body = body.replace('"EMAIL"', '"ada@example.com"').replace('"PASSWORD"', '"long pw!!"')
        response = await h.client.post(
            "/api/v1/auth/register",
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        assert_error(response, 422, "validation_error")


@pytest.mark.parametrize(
    "username", ["a\x00b@example.com", "\x00", "ada@example.com\x00", "x" * 100_000]
)
async def test_a_login_with_an_unstorable_or_huge_username_is_401_not_an_outage(
    app_factory: AppFactory, username: str
) -> None:
    async with app_factory() as h:
        await register(h.client, email="ada@example.com")
        response = await h.client.post(
            "/api/v1/auth/token", data={"username": username, "password": "correct horse battery"}
        )
        assert_error(response, 401, "invalid_credentials")
        # The database is fine, and so is the account.
        assert await login(h.client, "ada@example.com", "correct horse battery")
