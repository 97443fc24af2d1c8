"""The OpenAPI schema documents the errors as they are answered: every error response with the
`{"error": {...}}` body (422 included, not FastAPI's `{detail: [...]}`), and a blank `message`
refused by the schema's own pattern with the `empty_message` error the route answers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.main import create_app
from app.schemas.errors import ErrorBody
from tests.fixtures.accounts import new_account, new_client_id, stream_token
from tests.fixtures.environment import REPO_DIR
from tests.fixtures.server import AppFactory, make_settings
from tests.fixtures.streams import ONBOARDING_STREAM_PATH, STREAM_PATH, stream_params

pytestmark = pytest.mark.timeout(60)

ERROR_BODY_REF = {"$ref": "#/components/schemas/ErrorBody"}
EMPTY_MESSAGE = {"error": {"code": "empty_message", "message": "The message is empty."}}
BLANK_MESSAGES = ["", " ", "\t\r\n", "\u3000\u00a0"]


def openapi(tmp_path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = create_app(make_settings(tmp_path)).openapi()
    return schema


def test_every_error_response_documents_the_error_body(tmp_path: Path) -> None:
    schema = openapi(tmp_path)
    assert "HTTPValidationError" not in json.dumps(schema)
    undocumented = [
        f"{method.upper()} {path} {status}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if int(status) >= 400
        and response.get("content", {}).get("application/json", {}).get("schema") != ERROR_BODY_REF
    ]
    assert undocumented == []


def test_the_stream_routes_document_that_a_blank_message_is_refused(tmp_path: Path) -> None:
    schema = openapi(tmp_path)
    body_pattern = schema["components"]["schemas"]["ChatMessageCreate"]["properties"]["message"][
        "pattern"
    ]
    for path in (STREAM_PATH, ONBOARDING_STREAM_PATH):
        (message,) = (
            p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "message"
        )
        pattern = message["schema"]["pattern"]
        assert pattern == body_pattern
        # OpenAPI patterns are searched for, not anchored: a message with any other character
        # in it is allowed.
        assert [text for text in BLANK_MESSAGES if re.search(pattern, text)] == []
        assert re.search(pattern, " \u3000hi\n")


async def test_a_blank_message_in_a_stream_url_is_the_same_422_as_in_a_body(
    sqlite_app_factory: AppFactory,
) -> None:
    async with sqlite_app_factory() as h:
        account = await new_account(h.client)
        token = await stream_token(h.client, account)
        for text in BLANK_MESSAGES:
            for path in (STREAM_PATH, ONBOARDING_STREAM_PATH):
                response = await h.client.get(path, params=stream_params(token, text))
                assert response.status_code == 422, (path, text, response.text)
                assert response.json() == EMPTY_MESSAGE, (path, text)
            sent = await h.client.post(
                "/api/v1/chat/message",
                json={"message": text, "client_message_id": new_client_id()},
                headers=account.auth,
            )
            assert (sent.status_code, sent.json()) == (422, EMPTY_MESSAGE), text


async def test_a_validation_error_is_an_error_body_with_details(
    sqlite_app_factory: AppFactory,
) -> None:
    async with sqlite_app_factory() as h:
        account = await new_account(h.client)
        response = await h.client.get(
            "/api/v1/chat/conversations", params={"kind": "neither"}, headers=account.auth
        )
    assert response.status_code == 422, response.text
    body = response.json()
    assert ErrorBody.model_validate(body).model_dump(exclude_none=True) == body
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["details"][0]["loc"] == ["query", "kind"]


def test_every_status_the_endpoint_table_names_is_declared(tmp_path: Path) -> None:
    """docs/api.md's endpoint rows name statuses; each is one the route's schema declares."""
    schema = openapi(tmp_path)
    markdown = (REPO_DIR / "docs" / "api.md").read_text()
    endpoints = markdown[markdown.index("## Endpoints\n") :].split("\n## ", 1)[0]
    undeclared = []
    for row in re.findall(r"^\| `(GET|POST) (/\S*)` \|(.*)$", endpoints, re.M):
        method, path, text = row
        if path == "/metrics":
            continue  # outside the schema on purpose
        full_path = path if path in {"/healthz", "/readyz"} else "/api/v1" + path
        (operation,) = (
            operations[method.lower()]
            for served, operations in schema["paths"].items()
            if re.sub(r"\{[^}]+\}", "{}", served) == re.sub(r"\{[^}]+\}", "{}", full_path)
        )
        for status in re.findall(r"(?<![\w.])[1-5]\d\d(?![\w.])", text):
            if status not in operation["responses"]:
                undeclared.append(f"{method} {path}: {status}")
    assert undeclared == []
