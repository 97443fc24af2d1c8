"""A body the server cannot parse at all (JSON that is not UTF-8, a broken multipart form) is
a 422 `validation_error` like any malformed body: the status every body route documents."""

from __future__ import annotations

import pytest

from tests.fixtures.accounts import bearer, new_user_token
from tests.fixtures.server import AppFactory, assert_error

JSON_ROUTES = [
    "/api/v1/auth/register",
    "/api/v1/chat/message",
    "/api/v1/chat/onboarding-message",
    "/api/v1/chat/turns",
    "/api/v1/chat/cancel",
]


@pytest.mark.parametrize("body", [b"\xff\xfe", b'{"message": "\xe9"}', b"\xce\x9e\xff"])
async def test_json_that_is_not_utf8_is_422(sqlite_app_factory: AppFactory, body: bytes) -> None:
    async with sqlite_app_factory() as h:
        token = await new_user_token(h.client)
        for path in JSON_ROUTES:
            response = await h.client.post(
                path, content=body, headers={**bearer(token), "Content-Type": "application/json"}
            )
            error = assert_error(response, 422, "validation_error")
            assert error["details"][0]["loc"][0] == "body", (path, error)


async def test_a_broken_multipart_login_form_is_422(sqlite_app_factory: AppFactory) -> None:
    async with sqlite_app_factory() as h:
        response = await h.client.post(
            "/api/v1/auth/token",
            content=b'--b\r\nContent-Disposition: form-data; name="username"\r\n\r\nx',
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert_error(response, 422, "validation_error")


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (b"hello", "text/plain", "must be a JSON object"),
        (b"[1, 2]", "application/json", "must be a JSON object"),
        (b"null", "application/json", "must be a JSON object"),
        (b'{"message": "hi",', "application/json", "not valid JSON at character 17"),
        (b"", "application/json", "has no body"),
    ],
)
async def test_a_body_that_is_no_json_object_is_told_so_in_plain_words(
    sqlite_app_factory: AppFactory, body: bytes, content_type: str, says: str
) -> None:
    async with sqlite_app_factory() as h:
        token = await new_user_token(h.client)
        for path in JSON_ROUTES:
            response = await h.client.post(
                path, content=body, headers={**bearer(token), "Content-Type": content_type}
            )
            error = assert_error(response, 422, "validation_error")
            assert says in error["message"], (path, error)
            assert "dictionary" not in error["message"], (path, error)
            assert error["details"][0]["loc"][0] == "body", (path, error)
