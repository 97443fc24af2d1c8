"""Stream tokens: short-lived, only for the stream endpoints, checked at open, never logged."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.core.config import Settings
from tests.fixtures.accounts import bearer, new_account, new_client_id, stream_token
from tests.fixtures.database import DbProbe
from tests.fixtures.models import recording_model, words
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import ONBOARDING_STREAM_PATH, STREAM_PATH, read_stream, stream_params
from tests.fixtures.waiting import poll_until

pytestmark = pytest.mark.timeout(60)


def _token(settings: Settings, user_id: str, scope: str, ttl_s: float, secret: str = "") -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": user_id,
        "scope": scope,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_s),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret or settings.secret_key, algorithm="HS256")


@pytest.mark.parametrize("path", [STREAM_PATH, ONBOARDING_STREAM_PATH])
async def test_stream_token_opens_the_stream_endpoints_only(
    live_server_factory: AppFactory, path: str
) -> None:
    async with live_server_factory(model=recording_model("Fine.")) as server:
        async with server.client() as client:
            account = await new_account(client)
            issued = await client.post("/api/v1/chat/stream-token", headers=account.auth)
            token = issued.json()["token"]
            reader = await read_stream(client, stream_params(token), path=path)
            refused = [
                await client.get("/api/v1/users/me", headers=bearer(token)),
                await client.post("/api/v1/chat/stream-token", headers=bearer(token)),
                await client.post(
                    "/api/v1/chat/message",
                    json={"message": "Hi", "client_message_id": new_client_id()},
                    headers=bearer(token),
                ),
            ]
    assert issued.status_code == 200
    assert issued.json()["expires_in"] == server.settings.stream_token_expire_seconds
    assert reader.status_code == 200 and reader.types[-1] == "complete"
    assert [r.status_code for r in refused] == [401, 401, 401]
    assert refused[0].json()["error"]["code"] == "unauthorized"


async def test_stream_endpoints_refuse_missing_bad_expired_or_wrong_scope_token_with_401(
    live_server_factory: AppFactory, database_url: str
) -> None:
    model = recording_model("never said")
    async with live_server_factory(model=model) as server:
        async with server.client() as client:
            account = await new_account(client)
            other_key = "another-secret-key-that-is-long-enough-for-hs256"
            tokens = {
                "garbage": "not-a-jwt",
                "bad_signature": _token(server.settings, account.id, "stream", 60, other_key),
                "expired": _token(server.settings, account.id, "stream", -5),
                "wrong_scope": _token(server.settings, account.id, "refresh", 60),
                "unknown_user": _token(server.settings, str(uuid.uuid4()), "stream", 60),
            }
            readers = {}
            for path in [STREAM_PATH, ONBOARDING_STREAM_PATH]:
                missing = stream_params("")
                del missing["token"]
                readers[path, "missing"] = await read_stream(client, missing, path=path)
                for kind, token in tokens.items():
                    readers[path, kind] = await read_stream(client, stream_params(token), path=path)
    refused = {kind: r.status_code for kind, r in readers.items()}
    assert refused == dict.fromkeys(refused, 401)
    # An expired token says so (a client refreshes it); every other refusal is `unauthorized`.
    codes = {key: json.loads(r.body)["error"]["code"] for key, r in readers.items()}
    assert codes == {
        key: "token_expired" if key[1] == "expired" else "unauthorized" for key in readers
    }
    assert len(model.calls) == 0
    async with DbProbe(database_url) as db:
        messages = await db.messages_of_user(account.id)
    assert [m.role for m in messages] == ["assistant"]  # only the onboarding greeting


async def test_stream_outlives_its_token_which_is_checked_only_when_the_connection_opens(
    live_server_factory: AppFactory,
) -> None:
    model = recording_model(words(24), delay_s=0.06)
    async with live_server_factory(model=model, stream_token_expire_seconds=1) as server:
        async with server.client() as client:
            account = await new_account(client)
            issued_at = time.monotonic()
            token = await stream_token(client, account)
            reader = await read_stream(client, stream_params(token))
            streamed_s = time.monotonic() - issued_at
            # JWT times are whole seconds: the token lapses within a second past its 1 s.
            lapses_at = jwt.decode(token, options={"verify_signature": False})["exp"]
            await asyncio.sleep(max(0.0, lapses_at - time.time() + 0.05))
            reopened = await read_stream(client, stream_params(token))
    assert reader.status_code == 200, reader.body
    assert streamed_s > 1.2  # the token expired while the answer was still streaming
    assert reader.types[-1] == "complete"
    assert reader.chunk_text == model.full_text
    assert reopened.status_code == 401


class _FormattedLog(logging.Handler):
    """Every log line as the app's own handler renders it (after its redaction)."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_server_log_never_shows_a_token(live_server_factory: AppFactory) -> None:
    async with live_server_factory(model=recording_model("Logged?"), log_level="debug") as s:
        root = logging.getLogger()
        capture = _FormattedLog(root.handlers[0].formatter)
        root.addHandler(capture)
        try:
            async with s.client() as client:
                account = await new_account(client)
                token = await stream_token(client, account)
                first = await read_stream(client, stream_params(token))
                resumed = await read_stream(
                    client,
                    {**first.params, "last_event_id": first.events[-1].id or ""},
                )
                with_access_token = await read_stream(client, stream_params(account.access_token))
                expired = _token(s.settings, account.id, "stream", -5)
                refused = await read_stream(client, stream_params(expired))
                secrets = [token, account.access_token, expired]

                def stream_requests() -> list[str]:
                    return [
                        line
                        for line in capture.lines
                        if "chatstream.access" in line and "/api/v1/chat/stream?" in line
                    ]

                await poll_until(lambda: len(stream_requests()) >= 4)
        finally:
            root.removeHandler(capture)
    assert [first.status_code, resumed.status_code, with_access_token.status_code] == [
        200,
        204,
        200,
    ]
    assert refused.status_code == 401
    assert all("token=" in line for line in stream_requests())
    leaks = [line for line in capture.lines for secret in secrets if secret in line]
    assert leaks == []
    # Not even a piece of one: the signature part of each JWT is absent too.
    assert not any(secret.rsplit(".", 1)[1] in "\n".join(capture.lines) for secret in secrets)
