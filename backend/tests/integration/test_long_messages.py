"""Long messages: the whole MAX_MESSAGE_CHARS works for every script, by body and by URL."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import httpx
import pytest

from tests.fixtures.accounts import new_account, new_client_id, stream_token
from tests.fixtures.database import DbProbe, finished
from tests.fixtures.models import scripted_model
from tests.fixtures.server import AppFactory, assert_error
from tests.fixtures.streams import read_stream, stream_params

pytestmark = pytest.mark.asyncio

# Four bytes in UTF-8, twelve percent-encoded in a URL.
WIDE = "\U0001f600"


async def test_a_message_of_the_whole_limit_in_wide_characters_goes_by_body(
    live_server_factory: AppFactory, database_url: str
) -> None:
    async with live_server_factory(model=scripted_model("Got it.")) as server:
        async with server.client() as client:
            account = await new_account(client)
            limit = server.settings.max_message_chars
            body = {"message": WIDE * limit, "client_message_id": new_client_id()}
            started = await client.post("/api/v1/chat/turns", json=body, headers=account.auth)
            assert started.status_code == 202, started.text
            turn = started.json()
            assert turn["assistant_message"]["status"] == "streaming"
            answer_id = turn["assistant_message"]["id"]
            reader = await read_stream(
                client,
                {"token": await stream_token(client, account)},
                path=f"/api/v1/chat/messages/{answer_id}/stream",
            )
            again = await client.post("/api/v1/chat/turns", json=body, headers=account.auth)
            too_long = await client.post(
                "/api/v1/chat/turns",
                json={"message": WIDE * (limit + 1), "client_message_id": new_client_id()},
                headers=account.auth,
            )
    assert reader.terminal["type"] == "complete" and reader.chunk_text == "Got it."
    assert again.json()["assistant_message"]["id"] == answer_id  # a repeat: the same turn
    assert_error(too_long, 413, "message_too_long")
    async with DbProbe(database_url) as probe:
        question = await probe.message(turn["user_message"]["id"])
        answer = await probe.wait_for_message(answer_id, finished)
    assert question is not None and question.content == WIDE * limit
    assert answer.content == "Got it."


async def test_an_onboarding_turn_by_body(sqlite_server_factory: AppFactory) -> None:
    async with sqlite_server_factory(model=scripted_model("Nice to meet you.")) as server:
        async with server.client() as client:
            account = await new_account(client)
            body = {"message": "Ada", "client_message_id": new_client_id(), "kind": "onboarding"}
            started = await client.post("/api/v1/chat/turns", json=body, headers=account.auth)
            assert started.status_code == 202, started.text
            reader = await read_stream(
                client,
                {"token": await stream_token(client, account)},
                path=f"/api/v1/chat/messages/{started.json()['assistant_message']['id']}/stream",
            )
            state = (await client.get("/api/v1/onboarding", headers=account.auth)).json()
    assert reader.terminal["type"] == "complete"
    assert state["current_step"] == 2  # registration's display name answered the first


async def _raw_get(base_url: str, params: dict[str, str]) -> tuple[int, str]:
    """A GET written on the socket: httpx refuses a query this long before sending it."""
    url = httpx.URL(base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    target = "/api/v1/chat/stream?" + urlencode(params)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(-1), 30)
    writer.close()
    head, _, body = raw.decode().partition("\r\n\r\n")
    return int(head.split(" ", 2)[1]), body


async def test_a_stream_url_takes_the_limit_in_ascii_and_says_what_to_do_beyond(
    live_server_factory: AppFactory,
) -> None:
    async with live_server_factory(model=scripted_model("Fine.")) as server:
        async with server.client() as client:
            account = await new_account(client)
        limit = server.settings.max_message_chars
        token = account.access_token
        fits = await _raw_get(server.base_url, stream_params(token, "a" * limit))
        over = await _raw_get(server.base_url, stream_params(token, "a" * (limit + 1)))
        # Wide characters at the limit are ~96 KB percent-encoded: past what a URL can carry.
        wide = await _raw_get(server.base_url, stream_params(token, WIDE * limit))
    assert fits[0] == 200, fits
    assert '"type":"complete"' in fits[1]
    assert over[0] == 413 and '"message_too_long"' in over[1]
    assert wide[0] == 414 and json.loads(wide[1])["error"]["code"] == "uri_too_long"
