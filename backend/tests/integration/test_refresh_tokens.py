"""Refresh tokens: login and register set the cookie; refresh rotates it; a spent token presented
after the grace revokes its whole family; logout, expiry, unknown tokens and removed accounts
are refused; only hashes are stored and no token reaches a log. Both databases."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import delete, select

from app.db.models import RefreshToken, User
from tests.fixtures.accounts import DEFAULT_PASSWORD, bearer, register
from tests.fixtures.observability import capture_logs
from tests.fixtures.server import AppFactory, assert_error

COOKIE = "chatstream_refresh"
CSRF = {"X-Requested-With": "test"}
# No grace: a spent token is reuse at once (the tests of the grace set their own).
NO_GRACE: dict[str, Any] = {"refresh_token_reuse_grace_s": 0}


def _set_cookie(response: httpx.Response) -> dict[str, str]:
    """The refresh cookie this response sets: its value and attributes (lower-case names)."""
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}=")]
    assert len(headers) == 1, response.headers
    first, *attributes = (part.strip() for part in headers[0].split(";"))
    parsed = {"value": first.split("=", 1)[1].strip('"')}
    for attribute in attributes:
        name, _, value = attribute.partition("=")
        parsed[name.lower()] = value
    return parsed


async def _login(client: httpx.AsyncClient, email: str) -> tuple[str, str]:
    """(access token, refresh cookie) of a new sign-in."""
    response = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"], _set_cookie(response)["value"]


async def _refresh(client: httpx.AsyncClient, cookie: str | None) -> httpx.Response:
    # The cookie is sent by hand: it is Secure, and the test client speaks plain http.
    headers = {**CSRF, **({"Cookie": f"{COOKIE}={cookie}"} if cookie is not None else {})}
    return await client.post("/api/v1/auth/refresh", headers=headers)


async def _signed_in(client: httpx.AsyncClient) -> tuple[str, str]:
    account = await register(client)
    return await _login(client, account["email"])


async def test_login_and_register_set_an_httponly_secure_strict_cookie_for_the_auth_routes(
    app_factory: AppFactory,
) -> None:
    async with app_factory() as h:
        email = f"cookie-{uuid.uuid4().hex[:8]}@example.com"
        registered = await h.client.post(
            "/api/v1/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        login = await h.client.post(
            "/api/v1/auth/token", data={"username": email, "password": DEFAULT_PASSWORD}
        )
        for response in (registered, login):
            cookie = _set_cookie(response)
            assert len(cookie["value"]) >= 40
            assert "httponly" in cookie and "secure" in cookie
            assert cookie["samesite"].lower() == "strict"
            assert cookie["path"] == "/api/v1/auth"
            assert int(cookie["max-age"]) == h.settings.refresh_token_ttl_s
        # The cookie of registration is a sign-in of its own: it buys an access token.
        refreshed = await _refresh(h.client, _set_cookie(registered)["value"])
        assert refreshed.status_code == 200, refreshed.text
        me = await h.client.get(
            "/api/v1/users/me", headers=bearer(refreshed.json()["access_token"])
        )
        assert me.status_code == 200 and me.json()["email"] == email


async def test_refresh_returns_a_working_access_token_and_rotates_the_cookie(
    app_factory: AppFactory,
) -> None:
    async with app_factory(access_token_expire_minutes=0.25) as h:
        _, first = await _signed_in(h.client)
        response = await _refresh(h.client, first)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 15
        second = _set_cookie(response)
        assert second["value"] != first and "httponly" in second
        me = await h.client.get("/api/v1/users/me", headers=bearer(body["access_token"]))
        assert me.status_code == 200, me.text

        # The successor rotates in turn: a session goes on refresh after refresh.
        third = await _refresh(h.client, second["value"])
        assert third.status_code == 200, third.text
        assert _set_cookie(third)["value"] not in {first, second["value"]}


async def test_a_spent_token_presented_again_revokes_the_whole_family(
    app_factory: AppFactory,
) -> None:
    async with app_factory(**NO_GRACE) as h:
        _, stolen = await _signed_in(h.client)
        _, other_sign_in = await _signed_in(h.client)
        rotated = await _refresh(h.client, stolen)
        assert rotated.status_code == 200, rotated.text
        users_cookie = _set_cookie(rotated)["value"]
        descendant = _set_cookie(await _refresh(h.client, users_cookie))["value"]

        reused = await _refresh(h.client, stolen)
        assert_error(reused, 401, "refresh_token_reused")
        assert _set_cookie(reused)["max-age"] == "0"  # the refused cookie is cleared
        # Every token descended from that login is dead, the newest too.
        assert_error(await _refresh(h.client, descendant), 401, "refresh_token_invalid")
        assert_error(await _refresh(h.client, stolen), 401, "refresh_token_invalid")
        # Another sign-in of the same kind is untouched.
        assert (await _refresh(h.client, other_sign_in)).status_code == 200


async def test_within_the_grace_a_just_spent_token_still_refreshes(
    app_factory: AppFactory,
) -> None:
    """Two tabs refreshing at once with one cookie, or an answer lost on the way: no sign-out."""
    async with app_factory(refresh_token_reuse_grace_s=30) as h:
        _, cookie = await _signed_in(h.client)
        together = await asyncio.gather(*(_refresh(h.client, cookie) for _ in range(3)))
        assert [r.status_code for r in together] == [200, 200, 200], [r.text for r in together]
        successors = {_set_cookie(r)["value"] for r in together}
        assert len(successors) == 3
        for successor in successors:  # whichever cookie the browser kept goes on working
            assert (await _refresh(h.client, successor)).status_code == 200


async def test_the_grace_ends(app_factory: AppFactory) -> None:
    async with app_factory(refresh_token_reuse_grace_s=0.5) as h:
        _, cookie = await _signed_in(h.client)
        assert (await _refresh(h.client, cookie)).status_code == 200
        assert (await _refresh(h.client, cookie)).status_code == 200
        await asyncio.sleep(0.7)
        assert_error(await _refresh(h.client, cookie), 401, "refresh_token_reused")


async def test_missing_unknown_and_expired_cookies_are_refused(app_factory: AppFactory) -> None:
    async with app_factory(refresh_token_expire_days=1 / 86400) as h:
        _, cookie = await _signed_in(h.client)
        assert_error(await _refresh(h.client, None), 401, "refresh_token_invalid")
        assert_error(await _refresh(h.client, ""), 401, "refresh_token_invalid")
        assert_error(
            await _refresh(h.client, "not-a-token-we-issued"), 401, "refresh_token_invalid"
        )
        await asyncio.sleep(1.2)
        assert_error(await _refresh(h.client, cookie), 401, "refresh_token_invalid")


async def test_refresh_and_logout_need_the_csrf_header(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        _, cookie = await _signed_in(h.client)
        for path in ("/api/v1/auth/refresh", "/api/v1/auth/logout"):
            response = await h.client.post(path, headers={"Cookie": f"{COOKIE}={cookie}"})
            assert_error(response, 403, "csrf_header_missing")
        # Neither refused call spent or revoked anything.
        assert (await _refresh(h.client, cookie)).status_code == 200


async def test_logout_revokes_the_family_and_clears_the_cookie(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        _, cookie = await _signed_in(h.client)
        successor = _set_cookie(await _refresh(h.client, cookie))["value"]
        logout = await h.client.post(
            "/api/v1/auth/logout", headers={**CSRF, "Cookie": f"{COOKIE}={successor}"}
        )
        assert logout.status_code == 204, logout.text
        cleared = _set_cookie(logout)
        assert cleared["value"] == "" and cleared["max-age"] == "0"
        assert cleared["path"] == "/api/v1/auth"
        assert_error(await _refresh(h.client, successor), 401, "refresh_token_invalid")
        # A sign-out is not a theft, whichever token of the family comes back.
        assert_error(await _refresh(h.client, cookie), 401, "refresh_token_invalid")
        # Signing out twice, or with no cookie at all, is still a 204.
        again = await h.client.post("/api/v1/auth/logout", headers=CSRF)
        assert again.status_code == 204


async def test_a_removed_account_cannot_refresh(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        account = await register(h.client)
        _, cookie = await _login(h.client, account["email"])
        user_id = uuid.UUID(account["id"])
        await h.db.run(lambda s: s.execute(delete(User).where(User.id == user_id)))
        assert_error(await _refresh(h.client, cookie), 401, "refresh_token_invalid")


async def test_only_a_hash_of_each_refresh_token_is_stored(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        registered = await h.client.post(
            "/api/v1/auth/register",
            json={"email": "hashes@example.com", "password": DEFAULT_PASSWORD},
        )
        first = _set_cookie(registered)["value"]
        second = _set_cookie(await _refresh(h.client, first))["value"]

        def rows(session: Any) -> list[tuple[str, uuid.UUID]]:
            result = session.execute(select(RefreshToken.token_hash, RefreshToken.family_id))
            return [tuple(row) for row in result]

        stored = await h.db.run(rows)
        assert sorted(token_hash for token_hash, _ in stored) == sorted(
            hashlib.sha256(t.encode()).hexdigest() for t in (first, second)
        )
        assert len({family for _, family in stored}) == 1
        assert not any(t in repr(stored) for t in (first, second))


async def test_an_expired_access_token_is_a_401_token_expired(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        account = await register(h.client)
        past = datetime.now(UTC) - timedelta(minutes=1)
        expired = jwt.encode(
            {"sub": account["id"], "scope": "access", "iat": past, "exp": past},
            h.settings.secret_key,
            algorithm="HS256",
        )
        assert_error(
            await h.client.get("/api/v1/users/me", headers=bearer(expired)), 401, "token_expired"
        )
        badly_signed = jwt.encode(
            {"sub": account["id"], "scope": "access", "exp": datetime.now(UTC) + timedelta(1)},
            "another-secret-entirely-another-secret",
            algorithm="HS256",
        )
        assert_error(
            await h.client.get("/api/v1/users/me", headers=bearer(badly_signed)),
            401,
            "unauthorized",
        )


@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_no_refresh_token_reaches_the_log(app_factory: AppFactory, log_format: str) -> None:
    async with app_factory(log_level="debug", log_format=log_format, **NO_GRACE) as h:
        with capture_logs() as logs:
            access, cookie = await _signed_in(h.client)
            rotated = await _refresh(h.client, cookie)
            successor = _set_cookie(rotated)["value"]
            await _refresh(h.client, cookie)  # reuse: refused, and logged as a 401
            await h.client.post(
                "/api/v1/auth/logout", headers={**CSRF, "Cookie": f"{COOKIE}={successor}"}
            )
        secrets = [access, cookie, successor, rotated.json()["access_token"]]
        assert "/api/v1/auth/refresh" in logs.text  # the access log saw the requests
        for secret in secrets:
            assert secret not in logs.text
