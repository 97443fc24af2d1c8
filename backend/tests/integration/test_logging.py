"""Logs: structlog, JSON or console, one event per line, a request id per request, the stream
lifecycle (start, completion, cleanup with its reason), errors with type and context, and never
a secret, wherever it comes from."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import pytest
import structlog
from fastapi.routing import APIRoute

from app.core.config import Settings
from app.core.logging import configure_logging
from tests.fixtures.accounts import new_account, new_client_id, stream_token
from tests.fixtures.models import directed_model, scripted_model
from tests.fixtures.observability import capture_logs
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import ONBOARDING_STREAM_PATH, read_stream, start_stream, stream_params
from tests.fixtures.waiting import poll_until

pytestmark = pytest.mark.timeout(60)


JSON_LOGS: dict[str, Any] = {"log_format": "json", "log_level": "info"}


def _by_message(records: list[dict[str, Any]], event: str, message_id: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("event") == event and r.get("message_id") == message_id]


async def test_json_logs_are_one_object_per_line_and_a_request_id_ties_each_request_together(
    sqlite_server_factory: AppFactory,
) -> None:
    async with sqlite_server_factory(
        model=scripted_model("Hello there, friend.", delay_s=0.005), **JSON_LOGS
    ) as server:
        with capture_logs() as logs:
            async with server.client() as client:
                account = await new_account(client)
                token = await stream_token(client, account)
                stream = await read_stream(client, stream_params(token))
                assert stream.status_code == 200 and stream.headers is not None
                stream_request_id = stream.headers["x-request-id"]
                chosen = "client-chosen-id-0123"
                echoed = await client.get("/healthz", headers={"X-Request-Id": chosen})
                assert echoed.headers["x-request-id"] == chosen
                plain = await client.get("/healthz")
            await poll_until(lambda: bool(logs.events("stream_cleanup")), 5)

    records = logs.records()  # every line parses as one JSON object
    assert len(records) == len(logs.lines()) >= 8
    for record in records:
        assert {"event", "level", "timestamp", "logger"} <= set(record), record
    assert all("\n" not in line for line in logs.lines())

    of_stream = [r for r in records if r.get("request_id") == stream_request_id]
    assert {"stream_started", "stream_completed", "stream_cleanup", "http_request"} <= {
        r["event"] for r in of_stream
    }, of_stream
    access = [r for r in of_stream if r["event"] == "http_request"]
    assert len(access) == 1 and access[0]["path"].startswith("/api/v1/chat/stream?")
    # No other request shares that id, and every request's access line has one of its own.
    requests = logs.events("http_request")
    ids = [r.get("request_id") for r in requests]
    assert all(ids) and len(set(ids)) == len(ids), ids
    assert chosen in ids and plain.headers["x-request-id"] in ids


async def test_console_logs_in_development_and_json_in_production(
    sqlite_app_factory: AppFactory,
) -> None:
    async with sqlite_app_factory(chatstream_env="development", log_level="info") as harness:
        with capture_logs() as logs:
            response = await harness.client.get("/healthz")
    request_id = response.headers["x-request-id"]
    [line] = [line for line in logs.lines() if "http_request" in line]
    assert not line.lstrip().startswith("{")
    assert f"request_id={request_id}" in line and "status=200" in line and "[info" in line

    secret = "production-secret-" + "x" * 40
    async with sqlite_app_factory(
        chatstream_env="production", secret_key=secret, log_level="info"
    ) as h:
        with capture_logs() as logs:
            response = await h.client.get("/healthz")
    [record] = logs.events("http_request")
    assert record["request_id"] == response.headers["x-request-id"]
    assert record["status"] == 200 and record["path"] == "/healthz"


async def test_stream_start_and_completion_are_logged_with_their_context_and_timings(
    sqlite_server_factory: AppFactory,
) -> None:
    text = "Alpha beta gamma delta."
    async with sqlite_server_factory(
        model=scripted_model(text, delay_s=0.01), **JSON_LOGS
    ) as server:
        with capture_logs() as logs:
            async with server.client() as client:
                account = await new_account(client)
                stream = await read_stream(client, stream_params(account.access_token))
                onboarding = await read_stream(
                    client,
                    stream_params(account.access_token, "Call me Ada"),
                    path=ONBOARDING_STREAM_PATH,
                )
            await poll_until(lambda: len(logs.events("stream_cleanup")) >= 2, 5)

    assert stream.types[-1] == "complete" and onboarding.types[-1] == "complete"
    records = logs.records()
    for reader, agent in ((stream, "conversational"), (onboarding, "onboarding")):
        start = reader.payloads[0]
        [started] = _by_message(records, "stream_started", reader.message_id)
        assert started["user_id"] == account.id
        assert started["conversation_id"] == start["conversation_id"]
        assert started["agent"] == agent and started["model"] == "scripted"
        [completed] = _by_message(records, "stream_completed", reader.message_id)
        assert completed["user_id"] == account.id
        assert completed["chunk_count"] == reader.count("chunk") > 0
        assert completed["finish_reason"] == "stop"
        assert isinstance(completed["duration_ms"], int) and completed["duration_ms"] >= 10
        assert isinstance(completed["ttft_ms"], int)
        assert 0 <= completed["ttft_ms"] <= completed["duration_ms"]
        [cleanup] = _by_message(records, "stream_cleanup", reader.message_id)
        assert cleanup["reason"] == "complete" and cleanup["user_id"] == account.id


async def test_every_ending_is_cleaned_up_once_with_its_reason(
    sqlite_server_factory: AppFactory,
) -> None:
    # Two servers, so that no stall meant for a cancel or a disconnect can time out first.
    short_idle = {**JSON_LOGS, "stream_idle_timeout_s": 0.5}
    async with sqlite_server_factory(model=directed_model(delay_s=0.005), **short_idle) as server:
        with capture_logs() as first_logs:
            async with server.client() as client:
                account = await new_account(client)
                token = account.access_token
                complete = await read_stream(client, stream_params(token, "plain"))
                failed = await read_stream(client, stream_params(token, "[fail@2]"))
                timed_out = await read_stream(client, stream_params(token, "[stall@1]"))
            await poll_until(lambda: len(first_logs.events("stream_cleanup")) >= 3, 10)
    short_grace = {**JSON_LOGS, "stream_disconnect_grace_s": 0.2}
    async with sqlite_server_factory(model=directed_model(delay_s=0.005), **short_grace) as server:
        with capture_logs() as second_logs:
            async with server.client() as client:
                # Cancelled: stop it on the server while the model is silent.
                cancelled, task = start_stream(client, stream_params(token, "[stall@2]"))
                await poll_until(lambda: cancelled.count("chunk") >= 2, 5)
                response = await client.post(
                    f"/api/v1/chat/messages/{cancelled.message_id}/cancel", headers=account.auth
                )
                assert response.status_code == 202, response.text
                await asyncio.wait_for(task, 5)
                # Disconnected: the only reader goes away and does not come back.
                cut = await read_stream(client, stream_params(token, "[stall@2]"), stop_after=2)
            await poll_until(lambda: len(second_logs.events("stream_cleanup")) >= 2, 10)

    assert complete.terminal["type"] == "complete"
    assert failed.terminal["code"] == "llm_error"
    assert timed_out.terminal["code"] == "timeout"
    assert cancelled.terminal["code"] == "cancelled"
    records = first_logs.records() + second_logs.records()
    expected = {
        complete.message_id: "complete",
        failed.message_id: "error",
        timed_out.message_id: "timeout",
        cancelled.message_id: "cancelled",
        cut.message_id: "disconnected",
    }
    for message_id, reason in expected.items():
        cleanups = _by_message(records, "stream_cleanup", message_id)
        assert [c["reason"] for c in cleanups] == [reason], (message_id, cleanups)
        assert cleanups[0]["user_id"] == account.id


async def test_errors_are_logged_with_their_type_and_full_context(
    sqlite_server_factory: AppFactory,
) -> None:
    async with sqlite_server_factory(
        model=directed_model(delay_s=0.005), stream_idle_timeout_s=0.4, **JSON_LOGS
    ) as server:
        with capture_logs() as logs:
            async with server.client() as client:
                account = await new_account(client)
                failed = await read_stream(client, stream_params(account.access_token, "[fail@3]"))
                stalled = await read_stream(
                    client, stream_params(account.access_token, "[stall@1]")
                )
                sent = await client.post(
                    "/api/v1/chat/message",
                    json={"message": "[fail@0]", "client_message_id": new_client_id()},
                    headers=account.auth,
                )
            await poll_until(lambda: len(logs.events("stream_cleanup")) >= 3, 5)

    assert sent.status_code == 502
    records = logs.records()
    for reader, event, error_type in (
        (failed, "llm_error", "ScriptedModelFailure"),
        (stalled, "stream_idle_timeout", "TimeoutError"),
    ):
        start = reader.payloads[0]
        [error] = _by_message(records, event, reader.message_id)
        assert error["level"] in {"warning", "error"}
        assert error["error_type"] == error_type, error
        assert error["user_id"] == account.id
        assert error["conversation_id"] == start["conversation_id"]
        assert error["agent"] == "conversational" and error["model"] == "scripted"
        assert error["request_id"]
    # The non-streaming failure too: one llm_error, tied to the POST's request id.
    request_id = sent.headers["x-request-id"]
    [error] = [r for r in logs.events("llm_error") if r.get("request_id") == request_id]
    assert error["error_type"] == "ScriptedModelFailure" and error["user_id"] == account.id


async def test_an_unexpected_exception_is_logged_once_with_type_traceback_and_request_id(
    sqlite_server_factory: AppFactory,
) -> None:
    leaked = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrIn0.c2lnbmF0dXJlLXZhbHVl"

    async def explode() -> None:
        raise RuntimeError(f"boom near {leaked} and postgresql://app:db-password-9@db/x")

    async with sqlite_server_factory(**JSON_LOGS) as server:
        server.app.router.routes.insert(0, APIRoute("/api/v1/explode", explode))
        with capture_logs() as logs:
            async with server.client() as client:
                response = await client.get("/api/v1/explode")
            await poll_until(lambda: bool(logs.events("http_request", status=500)), 5)

    assert response.status_code == 500
    request_id = response.headers.get("x-request-id")
    assert request_id, response.headers
    assert response.json()["error"]["code"] == "internal"
    errors = [r for r in logs.records() if r["level"] in {"error", "critical"}]
    assert len(errors) == 1, errors
    [error] = errors
    assert error["request_id"] == request_id
    assert error["error_type"] == "RuntimeError"
    assert "Traceback" in error["exception"] and "explode" in error["exception"]
    assert leaked not in logs.text and "db-password-9" not in logs.text


async def test_no_secret_reaches_the_logs_during_a_whole_streaming_session(
    sqlite_server_factory: AppFactory,
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    wrong_password = f"wrong-{uuid.uuid4().hex}"
    bogus_token = f"bogus-token-{uuid.uuid4().hex}"
    private_text = f"private-words-{uuid.uuid4().hex}"  # the same once URL-encoded
    async with sqlite_server_factory(
        model=scripted_model("Fine, thanks.", delay_s=0.002), **JSON_LOGS
    ) as server:
        with capture_logs() as logs:
            async with server.client() as client:
                account = await new_account(client, password=password)
                refused = await client.post(
                    "/api/v1/auth/token",
                    data={"username": account.email, "password": wrong_password},
                )
                assert refused.status_code == 401
                assert (await client.get("/api/v1/users/me", headers=account.auth)).is_success
                assert (await client.get("/api/v1/config", headers=account.auth)).is_success
                issued_stream_token = await stream_token(client, account)
                with_stream_token = await read_stream(
                    client, stream_params(issued_stream_token, private_text)
                )
                with_access_token = await read_stream(
                    client, stream_params(account.access_token, private_text + " again")
                )
                onboarding = await read_stream(
                    client,
                    stream_params(issued_stream_token, "Call me Ada"),
                    path=ONBOARDING_STREAM_PATH,
                )
                unauthorised = await client.get(
                    "/api/v1/chat/stream", params=stream_params(bogus_token)
                )
                sent = await client.post(
                    "/api/v1/chat/message",
                    json={"message": "hi", "client_message_id": new_client_id()},
                    headers=account.auth,
                )
            await poll_until(lambda: len(logs.events("stream_cleanup")) >= 4, 5)

    assert with_stream_token.types[-1] == "complete"
    assert with_access_token.types[-1] == "complete"
    assert onboarding.types[-1] == "complete"
    assert unauthorised.status_code == 401 and sent.status_code == 200
    # Everything the server wrote (this process also holds the test's own HTTP client).
    text = "\n".join(
        line
        for line, record in zip(logs.lines(), logs.records(), strict=True)
        if not record["logger"].startswith(("httpx", "httpcore"))
    )
    assert '"event": "stream_completed"' in text
    for secret in (
        password,
        wrong_password,
        account.access_token,
        issued_stream_token,
        bogus_token,
        private_text,
    ):
        assert secret not in text, f"{secret[:12]}… appears in the logs"
    # The stream requests were logged, with the token visibly redacted (not simply unlogged).
    stream_lines = [
        r for r in logs.events("http_request") if r["path"].startswith("/api/v1/chat/stream?")
    ]
    assert len(stream_lines) == 3
    assert all(
        "token=%5BREDACTED%5D" in r["path"] or "token=[REDACTED]" in r["path"] for r in stream_lines
    )


def test_secrets_inside_log_events_are_redacted_whatever_field_they_are_in() -> None:
    configure_logging(Settings(_env_file=None, log_format="json", log_level="info"))  # type: ignore[call-arg]
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"
    with capture_logs() as logs:
        log = structlog.get_logger("test")
        log.info(
            "event_with_secret_keys",
            password="p4ss-word",
            api_key="sk-live-123",
            authorization="Bearer abc",
        )
        log.info(
            "event_with_secret_values", url="postgresql://app:db-pass-1@db/x", detail=f"got {jwt}"
        )
        log.info("event_with_query", path="/x?token=tok-in-query&message=hi")
        logging.getLogger("some.library").warning(
            "connecting to redis://:redis-pass-2@cache:6379/0"
        )
        try:
            raise ValueError(f"bad token {jwt}")
        except ValueError:
            logging.getLogger("some.library").exception("library failure")
            log.exception("our failure")
    text = logs.text
    for secret in (
        "p4ss-word",
        "sk-live-123",
        "Bearer abc",
        "db-pass-1",
        jwt,
        "tok-in-query",
        "redis-pass-2",
    ):
        assert secret not in text, secret
    records = logs.records()
    failures = [r for r in records if r["event"] in {"library failure", "our failure"}]
    assert len(failures) == 2
    for record in failures:
        assert "ValueError" in record["exception"] and "Traceback" in record["exception"]
    assert json.dumps(records)  # still plain JSON values
