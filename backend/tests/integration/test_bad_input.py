"""Bad input gets the right status and the JSON error envelope, and never reaches the model."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.accounts import bearer, new_client_id, new_user_token
from tests.fixtures.models import recording_model
from tests.fixtures.server import AppFactory, assert_error

ENDPOINTS = ["/api/v1/chat/message", "/api/v1/chat/onboarding-message"]
DEFAULT_MAX_CHARS = 8000


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_empty_or_blank_message_is_422_empty_message(
    app_factory: AppFactory, endpoint: str
) -> None:
    model = recording_model()
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client)
        for text in ("", " ", "  \n\t \r\n "):
            response = await h.client.post(
                endpoint,
                json={"message": text, "client_message_id": new_client_id()},
                headers=bearer(token),
            )
            assert_error(response, 422, "empty_message")
        assert model.calls == []
        chats = await h.client.get(
            "/api/v1/chat/conversations", params={"kind": "chat"}, headers=bearer(token)
        )
        assert chats.json()["items"] == []


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_message_over_the_limit_is_413_and_at_the_limit_is_accepted(
    app_factory: AppFactory, endpoint: str
) -> None:
    model = recording_model("ok")
    async with app_factory(model=model) as h:
        assert h.settings.max_message_chars == DEFAULT_MAX_CHARS
        token = await new_user_token(h.client)
        too_long = await h.client.post(
            endpoint,
            json={"message": "x" * (DEFAULT_MAX_CHARS + 1), "client_message_id": new_client_id()},
            headers=bearer(token),
        )
        message = assert_error(too_long, 413, "message_too_long")["message"]
        assert str(DEFAULT_MAX_CHARS) in message
        assert model.calls == []

        exactly = await h.client.post(
            endpoint,
            json={"message": "é" * DEFAULT_MAX_CHARS, "client_message_id": new_client_id()},
            headers=bearer(token),
        )
        assert exactly.status_code == 200, exactly.text
        assert exactly.json()["user_message"]["content"] == "é" * DEFAULT_MAX_CHARS
        assert len(model.calls) == 1


async def test_message_limit_follows_the_setting(app_factory: AppFactory) -> None:
    async with app_factory(max_message_chars=10) as h:
        token = await new_user_token(h.client)

        async def send(text: str) -> int:
            response = await h.client.post(
                "/api/v1/chat/message",
                json={"message": text, "client_message_id": new_client_id()},
                headers=bearer(token),
            )
            return response.status_code

        assert await send("0123456789") == 200
        assert await send("0123456789a") == 413
        config = await h.client.get("/api/v1/config", headers=bearer(token))
        assert config.json()["max_message_chars"] == 10


# A body, and where the error message or its details must point.
MALFORMED_BODIES: list[tuple[bytes, str]] = [
    (b'{"message": "hi", "client_message_id": ', "json"),  # truncated JSON
    (b"message=hi", "json"),  # a form, not JSON
    (b"", "body"),
    (b"[]", "body"),
    (b'{"client_message_id": "abc"}', "message"),
    (b'{"message": "hi"}', "client_message_id"),
    (b'{"message": 42, "client_message_id": "abc"}', "message"),
    (b'{"message": "hi", "client_message_id": "has spaces"}', "client_message_id"),
    (b'{"message": "hi", "client_message_id": ""}', "client_message_id"),
    (b'{"message": "hi", "client_message_id": "a", "conversation_id": "x"}', "conversation_id"),
]


async def test_malformed_request_is_422_validation_error(app_factory: AppFactory) -> None:
    model = recording_model()
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client)
        for body, where in MALFORMED_BODIES:
            response = await h.client.post(
                "/api/v1/chat/message",
                content=body,
                headers={**bearer(token), "Content-Type": "application/json"},
            )
            assert response.status_code == 422, (body, response.text)
            error: dict[str, Any] = response.json()["error"]
            assert error["code"] == "validation_error", body
            assert error["message"], body
            pointed_at = error["message"].lower() + " ".join(
                str(d["loc"]) for d in error["details"]
            )
            assert where in pointed_at, (body, error)
        assert model.calls == []


async def test_malformed_json_on_every_json_endpoint_is_422(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        token = await new_user_token(h.client)
        for path in ("/api/v1/auth/register", *ENDPOINTS):
            response = await h.client.post(
                path,
                content=b"{not json",
                headers={**bearer(token), "Content-Type": "application/json"},
            )
            assert_error(response, 422, "validation_error")


async def test_login_without_form_fields_is_422(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        response = await h.client.post("/api/v1/auth/token", data={"username": "a@x.io"})
        assert_error(response, 422, "validation_error")


async def test_bad_input_is_checked_after_authentication(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        response = await h.client.post(
            "/api/v1/chat/message", json={"message": "", "client_message_id": "a"}
        )
        assert_error(response, 401, "unauthorized")
