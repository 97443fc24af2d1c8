"""Tokens signed with the right key but with claims of the wrong type are refused like any
other bad token: 401 on the bearer and the stream endpoints, never a 500, nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from tests.fixtures.accounts import bearer, new_account, new_client_id
from tests.fixtures.server import AppFactory, assert_error

LATER = int((datetime.now(UTC) + timedelta(days=1)).timestamp())

# Each claim set is `{"sub": <the user's id>, "scope": "access", "exp": LATER}` with one claim
# replaced; "USER" stands for the user's id.
WRONG_CLAIMS: dict[str, dict[str, Any]] = {
    "scope a list": {"scope": ["access"]},
    "scope an object": {"scope": {"access": True}},
    "scope a number": {"scope": 1},
    "scope null": {"scope": None},
    "scope true": {"scope": True},
    "scope unknown": {"scope": "admin"},
    "sub a number": {"sub": 12345},
    "sub a list": {"sub": ["USER"]},
    "sub an object": {"sub": {"id": "USER"}},
    "sub null": {"sub": None},
    "sub not a uuid": {"sub": "USER-not"},
    "exp a string": {"exp": str(LATER)},
    "exp a list": {"exp": [LATER]},
    "exp true": {"exp": True},
    "iat a string": {"iat": "yesterday"},
    "jti a number": {"jti": 7},
}


def _token(secret: str, user_id: str, **replaced: Any) -> str:
    claims: dict[str, Any] = {"sub": user_id, "scope": "access", "exp": LATER}
    for name, value in replaced.items():
        claims[name] = _with_user(value, user_id)
    return jwt.encode(claims, secret, algorithm="HS256")


def _with_user(value: Any, user_id: str) -> Any:
    if isinstance(value, str):
        return value.replace("USER", user_id)
    if isinstance(value, list):
        return [_with_user(item, user_id) for item in value]
    if isinstance(value, dict):
        return {key: _with_user(item, user_id) for key, item in value.items()}
    return value


@pytest.mark.parametrize("case", WRONG_CLAIMS, ids=list(WRONG_CLAIMS))
async def test_a_claim_of_the_wrong_type_is_401_everywhere(
    app_factory: AppFactory, case: str
) -> None:
    async with app_factory() as h:
        account = await new_account(h.client)
        token = _token(h.settings.secret_key, account.id, **WRONG_CLAIMS[case])
        message = {"message": "Hello", "client_message_id": new_client_id()}
        responses = [
            await h.client.get("/api/v1/users/me", headers=bearer(token)),
            await h.client.get("/api/v1/onboarding", headers=bearer(token)),
            await h.client.post("/api/v1/chat/message", json=message, headers=bearer(token)),
            await h.client.get("/api/v1/chat/stream", params={**message, "token": token}),
        ]
        for response in responses:
            assert_error(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer"
        chats = await h.client.get(
            "/api/v1/chat/conversations", params={"kind": "chat"}, headers=account.auth
        )
        assert chats.json()["items"] == []


async def test_the_same_claims_with_the_right_types_are_accepted(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        account = await new_account(h.client)
        token = _token(h.settings.secret_key, account.id, iat=LATER - 86_400, jti="abc")
        assert (await h.client.get("/api/v1/users/me", headers=bearer(token))).status_code == 200
