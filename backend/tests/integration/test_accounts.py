"""Accounts and tokens: register, log in, who am I; every bad token is a 401."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from app.core.security import create_access_token
from tests.fixtures.accounts import bearer, login, new_client_id, new_user_token, register
from tests.fixtures.server import AppFactory, AppHarness, assert_error

PASSWORD = "correct horse battery"


async def test_register_then_log_in_then_read_my_profile(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        response = await h.client.post(
            "/api/v1/auth/register",
            json={"email": "Ada@Example.io", "password": PASSWORD, "display_name": "  Ada  L "},
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["email"] == "ada@example.io"
        assert created["display_name"] == "Ada L"
        assert "password" not in response.text and "hashed" not in response.text

        token_response = await h.client.post(
            "/api/v1/auth/token", data={"username": "ada@example.io", "password": PASSWORD}
        )
        assert token_response.status_code == 200, token_response.text
        token = token_response.json()
        assert token["token_type"] == "bearer"
        assert token["expires_in"] == h.settings.access_token_expire_minutes * 60

        me = await h.client.get("/api/v1/users/me", headers=bearer(token["access_token"]))
        assert me.status_code == 200, me.text
        assert me.json() == {
            "id": created["id"],
            "email": "ada@example.io",
            "display_name": "Ada L",
            "created_at": created["created_at"],
            "onboarding_completed": False,
        }


async def test_email_is_unique_case_insensitively(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        await register(h.client, email="A@x.io")
        response = await h.client.post(
            "/api/v1/auth/register", json={"email": "a@x.io", "password": PASSWORD}
        )
        assert_error(response, 409, "email_taken")
        # And the log-in finds the account whatever the case.
        assert await login(h.client, "A@X.IO", PASSWORD)


async def test_duplicate_registration_is_a_conflict(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        account = await register(h.client)
        again = await h.client.post(
            "/api/v1/auth/register",
            json={"email": account["email"], "password": "another password"},
        )
        assert_error(again, 409, "email_taken")
        # The first password still works: the duplicate changed nothing.
        assert await login(h.client, account["email"], PASSWORD)


async def test_wrong_password_gets_same_message_as_unknown_email(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        account = await register(h.client)
        wrong = await h.client.post(
            "/api/v1/auth/token", data={"username": account["email"], "password": "not it at all"}
        )
        unknown = await h.client.post(
            "/api/v1/auth/token", data={"username": "nobody@x.io", "password": PASSWORD}
        )
        assert_error(wrong, 401, "invalid_credentials")
        assert_error(unknown, 401, "invalid_credentials")
        assert wrong.json() == unknown.json()
        assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "short@x.io", "password": "seven77"},
        {"password": PASSWORD},
    ],
    ids=["bad-email", "short-password", "no-email"],
)
async def test_invalid_registration_is_a_validation_error(
    app_factory: AppFactory, body: dict[str, str]
) -> None:
    async with app_factory() as h:
        response = await h.client.post("/api/v1/auth/register", json=body)
        assert_error(response, 422, "validation_error")


# Tokens ---------------------------------------------------------------------------------------


def _token(h: AppHarness, *, key: str | None = None, **claims: Any) -> str:
    return jwt.encode(claims, key or h.settings.secret_key, algorithm="HS256")


async def test_bad_tokens_are_refused_with_401(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        account = await register(h.client)
        user_id = account["id"]
        now = datetime.now(UTC)
        later = now + timedelta(minutes=5)
        bad_tokens = {
            "expired": _token(
                h,
                sub=user_id,
                scope="access",
                iat=now - timedelta(hours=2),
                exp=now - timedelta(hours=1),
            ),
            "wrong-signature": _token(
                h, key="some-other-secret-" + "x" * 32, sub=user_id, scope="access", exp=later
            ),
            "malformed": "this.is.not-a-jwt",
            "garbage": "garbage",
            "no-scope": _token(h, sub=user_id, exp=later),
            "not-a-user-id": _token(h, sub="admin", scope="access", exp=later),
            "unknown-user": create_access_token(h.settings, uuid.uuid4()).token,
        }
        for name, token in bad_tokens.items():
            response = await h.client.get("/api/v1/users/me", headers=bearer(token))
            assert response.status_code == 401, name
            # An expired token says so: the client refreshes it instead of signing out.
            assert_error(response, 401, "token_expired" if name == "expired" else "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer", name
        # The same account with a good token is fine: it was the tokens that were wrong.
        good = _token(h, sub=user_id, scope="access", exp=later)
        assert (await h.client.get("/api/v1/users/me", headers=bearer(good))).status_code == 200


async def test_missing_token_is_refused_with_401(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        assert_error(await h.client.get("/api/v1/users/me"), 401, "unauthorized")
        basic = {"Authorization": "Basic dXNlcjpwYXNz"}
        assert_error(await h.client.get("/api/v1/users/me", headers=basic), 401, "unauthorized")


async def test_stream_scope_token_is_refused_by_bearer_endpoints(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        access = await new_user_token(h.client)
        issued = await h.client.post("/api/v1/chat/stream-token", headers=bearer(access))
        assert issued.status_code == 200, issued.text
        assert issued.json()["expires_in"] == h.settings.stream_token_expire_seconds
        stream_token = issued.json()["token"]
        refused = [
            await h.client.get("/api/v1/users/me", headers=bearer(stream_token)),
            await h.client.get("/api/v1/chat/conversations", headers=bearer(stream_token)),
            await h.client.get("/api/v1/onboarding", headers=bearer(stream_token)),
            await h.client.post("/api/v1/chat/stream-token", headers=bearer(stream_token)),
            await h.client.post(
                "/api/v1/chat/message",
                json={"message": "hi", "client_message_id": new_client_id()},
                headers=bearer(stream_token),
            ),
        ]
        for response in refused:
            assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize("path", ["/api/v1/chat/stream", "/api/v1/chat/onboarding-stream"])
async def test_stream_scope_token_is_accepted_in_the_token_query(
    app_factory: AppFactory, path: str
) -> None:
    async with app_factory() as h:
        access = await new_user_token(h.client)
        stream_token = (
            await h.client.post("/api/v1/chat/stream-token", headers=bearer(access))
        ).json()["token"]
        params = {"message": "Hello", "client_message_id": new_client_id()}
        response = await h.client.get(path, params={**params, "token": stream_token})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        assert '"type":"complete"' in response.text

        refused = await h.client.get(
            path, params={**params, "client_message_id": new_client_id(), "token": "nope"}
        )
        assert_error(refused, 401, "unauthorized")
        missing = await h.client.get(path, params={**params, "client_message_id": new_client_id()})
        assert_error(missing, 401, "unauthorized")
