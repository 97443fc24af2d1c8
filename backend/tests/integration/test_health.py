"""Probes, API docs, stable operation ids, and a database that is down or not migrated."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from app.core.security import create_access_token
from tests.fixtures.accounts import bearer, new_client_id
from tests.fixtures.database import sqlite_file_url
from tests.fixtures.environment import free_port
from tests.fixtures.server import AppFactory, assert_error, make_settings, running_app


async def test_liveness_and_readiness_answer_ok(app_factory: AppFactory) -> None:
    async with app_factory() as h:
        live = await h.client.get("/healthz")
        assert (live.status_code, live.json()) == (200, {"status": "ok"})
        ready = await h.client.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready", "database": "ok"})


async def test_api_docs_are_served(tmp_path: Path, sqlite_url: str) -> None:
    async with running_app(make_settings(tmp_path, database_url=sqlite_url)) as h:
        docs = await h.client.get("/docs")
        assert docs.status_code == 200
        assert docs.headers["content-type"].startswith("text/html")
        assert "swagger-ui" in docs.text and "/openapi.json" in docs.text
        schema = await h.client.get("/openapi.json")
        assert schema.status_code == 200
        assert schema.json()["info"]["title"] == "ChatStream"


async def test_operation_ids_are_stable_tag_dash_name(tmp_path: Path, sqlite_url: str) -> None:
    async with running_app(make_settings(tmp_path, database_url=sqlite_url)) as h:
        schema = (await h.client.get("/openapi.json")).json()
    operations = [
        operation
        for path_item in schema["paths"].values()
        for operation in path_item.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    ids = [operation["operationId"] for operation in operations]
    assert len(ids) == len(set(ids))
    for operation in operations:
        assert operation["operationId"].startswith(operation["tags"][0] + "-"), operation
        assert re.fullmatch(r"[a-z]+-[a-z_]+", operation["operationId"]), operation
    assert {
        "auth-register",
        "auth-login",
        "users-read_me",
        "config-read_config",
        "onboarding-read_onboarding_state",
        "chat-issue_stream_token",
        "chat-stream_chat",
        "chat-stream_onboarding",
        "chat-send_message",
        "chat-send_onboarding_message",
        "chat-cancel_message",
        "chat-list_conversations",
        "chat-list_messages",
        "health-healthz",
        "health-readyz",
    } <= set(ids)


@pytest.mark.parametrize("path", ["/api/v1/nowhere", "/nowhere.json"])
async def test_unknown_route_is_a_json_404(tmp_path: Path, sqlite_url: str, path: str) -> None:
    settings = make_settings(tmp_path, database_url=sqlite_url, frontend_dist_dir=tmp_path / "no")
    async with running_app(settings) as h:
        assert_error(await h.client.get(path), 404, "not_found")


async def test_wrong_method_is_a_json_405(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, database_url=sqlite_url, frontend_dist_dir=tmp_path / "no")
    async with running_app(settings) as h:
        assert_error(await h.client.get("/api/v1/chat/message"), 405, "method_not_allowed")
        assert_error(await h.client.delete("/api/v1/users/me"), 405, "method_not_allowed")


# The database is down -------------------------------------------------------------------------


def _unreachable_urls(tmp_path: Path) -> dict[str, str]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    return {
        "postgres-closed-port": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x",
        "sqlite-under-a-file": sqlite_file_url(a_file / "chatstream.db"),
        "sqlite-dir-cannot-exist": sqlite_file_url(a_file / "missing" / "chatstream.db"),
    }


@pytest.mark.parametrize(
    "case", ["postgres-closed-port", "sqlite-under-a-file", "sqlite-dir-cannot-exist"]
)
async def test_unreachable_database_is_reported_not_crashed_on(tmp_path: Path, case: str) -> None:
    settings = make_settings(tmp_path, database_url=_unreachable_urls(tmp_path)[case])
    async with running_app(settings) as h:  # starts despite the database
        assert (await h.client.get("/healthz")).status_code == 200
        ready = await h.client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unavailable"
        assert body["error"]["code"] == "database_unavailable"
        assert body["error"]["message"].startswith("The database is unreachable")

        register = await h.client.post(
            "/api/v1/auth/register", json={"email": "a@x.io", "password": "long enough pw"}
        )
        message = assert_error(register, 503, "database_unavailable")["message"]
        assert "try again" in message
        token = create_access_token(settings, uuid.uuid4()).token
        me = await h.client.get("/api/v1/users/me", headers=bearer(token))
        assert_error(me, 503, "database_unavailable")
        send = await h.client.post(
            "/api/v1/chat/message",
            json={"message": "hi", "client_message_id": new_client_id()},
            headers=bearer(token),
        )
        assert_error(send, 503, "database_unavailable")
        # Still alive and still answering after all that.
        assert (await h.client.get("/readyz")).status_code == 503


async def test_database_without_schema_is_not_ready(tmp_path: Path) -> None:
    # A new directory and an empty SQLite file in it: reachable, but nothing is migrated.
    url = sqlite_file_url(tmp_path / "new-dir" / "chatstream.db")
    async with running_app(make_settings(tmp_path, database_url=url)) as h:
        ready = await h.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"] == {
            "code": "database_not_migrated",
            "message": "The database has no ChatStream schema; run `chatstream migrate`.",
        }
        register = await h.client.post(
            "/api/v1/auth/register", json={"email": "a@x.io", "password": "long enough pw"}
        )
        assert_error(register, 503, "database_unavailable")


async def test_database_statement_error_is_a_500_not_an_outage(
    tmp_path: Path, sqlite_url: str
) -> None:
    # No front end mounted at /, so a route added now is reached.
    settings = make_settings(tmp_path, database_url=sqlite_url, frontend_dist_dir=tmp_path / "no")
    async with running_app(settings) as h:

        async def broken() -> None:
            raise IntegrityError("INSERT ...", {}, Exception("UNIQUE constraint failed"))

        h.app.add_api_route("/broken", broken)
        response = await h.client.get("/broken")
        assert_error(response, 500, "internal")
        assert "UNIQUE" not in response.text
