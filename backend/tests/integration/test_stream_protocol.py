"""SSE protocol (DESIGN.md §3) on the wire: headers, framing, event order, pings, onboarding."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.accounts import new_account, stream_token
from tests.fixtures.models import recording_model, words
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import (
    ONBOARDING_STREAM_PATH,
    STREAM_PATH,
    assert_well_formed,
    read_stream,
    stream_params,
)

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("path", [STREAM_PATH, ONBOARDING_STREAM_PATH])
async def test_stream_headers_forbid_buffering_and_compression(
    live_server_factory: AppFactory, path: str
) -> None:
    async with live_server_factory(model=recording_model("Short answer.")) as server:
        async with server.client() as client:
            account = await new_account(client)
            token = await stream_token(client, account)
            reader = await read_stream(
                client,
                stream_params(token),
                path=path,
                headers={"Accept-Encoding": "gzip, deflate, br"},
            )
    assert reader.status_code == 200, reader.body
    headers = reader.headers
    assert headers is not None
    assert headers["content-type"].split(";")[0].strip() == "text/event-stream"
    assert headers["cache-control"] == "no-cache"
    assert headers["connection"].lower() == "keep-alive"
    assert headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in headers
    assert reader.text.startswith("retry: 3000\n\n")
    assert reader.types[-1] == "complete"


async def test_stream_sends_retry_then_start_chunks_and_one_complete_with_sequential_ids(
    live_server_factory: AppFactory,
) -> None:
    text = "Hello there!\n\nA *second* line, with ünïcödé and 🎉 emoji.\r\nEnd."
    model = recording_model(text, delay_s=0.005)
    async with live_server_factory(model=model, stream_retry_ms=2500) as server:
        async with server.client() as client:
            account = await new_account(client)
            reader = await read_stream(client, stream_params(account.access_token, "Hi"))
    assert reader.status_code == 200, reader.body
    assert reader.text.startswith("retry: 2500\n\n")
    assert reader.parser.retry_ms == 2500
    assert_well_formed(reader)
    assert reader.ended_by_server
    start, *chunks, complete = reader.payloads
    assert start["conversation_id"] and start["user_message_id"]
    assert [c["content"] for c in chunks] == model.chunks
    assert reader.chunk_text == text
    assert complete == {
        "type": "complete",
        "message_id": reader.message_id,
        "conversation_id": start["conversation_id"],
        "chunks": len(model.chunks),
        "finish_reason": "stop",
        "onboarding": None,
    }
    # Every data field is one JSON object on one line, whatever the model wrote.
    data_lines = [line for line in reader.text.split("\n") if line.startswith("data:")]
    assert len(data_lines) == len(reader.events)
    assert all(isinstance(json.loads(line.removeprefix("data: ")), dict) for line in data_lines)


async def test_ping_comments_are_sent_while_the_model_is_silent(
    live_server_factory: AppFactory,
) -> None:
    model = recording_model(words(5), stall_after=2)
    async with live_server_factory(
        model=model, stream_ping_interval_s=0.1, stream_idle_timeout_s=0.8
    ) as server:
        async with server.client() as client:
            account = await new_account(client)
            reader = await read_stream(client, stream_params(account.access_token))
    assert reader.types == ["start", "chunk", "chunk", "error"]
    assert reader.terminal["code"] == "timeout"
    # The pings fall in the silence between the last chunk and the timeout.
    silence = reader.text.split('"index":1}\n\n', 1)[1].split("data:", 1)[0]
    assert silence.count(": ping\n\n") >= 3, reader.text
    assert reader.parser.comments.count("ping") >= 3


async def test_no_pings_while_chunks_keep_coming_faster_than_the_interval(
    live_server_factory: AppFactory,
) -> None:
    model = recording_model(words(20), delay_s=0.01)
    async with live_server_factory(model=model, stream_ping_interval_s=0.5) as server:
        async with server.client() as client:
            account = await new_account(client)
            reader = await read_stream(client, stream_params(account.access_token))
    assert reader.types[-1] == "complete"
    assert reader.parser.comments == []


async def test_onboarding_stream_reports_progress_until_completed_after_the_last_turn(
    live_server_factory: AppFactory,
) -> None:
    async with live_server_factory(model=recording_model("Thanks! Next question.")) as server:
        async with server.client() as client:
            account = await new_account(client)
            progress = []
            # Registration's display name answered the first question: three remain.
            for answer in ["Engineer", "Streaming code", "Short please"]:
                token = await stream_token(client, account)
                reader = await read_stream(
                    client, stream_params(token, answer), path=ONBOARDING_STREAM_PATH
                )
                assert reader.status_code == 200, reader.body
                assert_well_formed(reader)
                assert reader.chunk_text.startswith("Thanks! Next question.\n\n")
                complete = reader.terminal
                assert complete["type"] == "complete"
                progress.append(
                    (complete["onboarding"]["progress"], complete["onboarding"]["completed"])
                )
            state = (await client.get("/api/v1/onboarding", headers=account.auth)).json()
            again = await read_stream(
                client,
                stream_params(account.access_token, "more"),
                path=ONBOARDING_STREAM_PATH,
            )
    assert progress == [(0.5, False), (0.75, False), (1.0, True)]
    assert state["completed"] is True and state["progress"] == 1.0
    assert again.status_code == 409
