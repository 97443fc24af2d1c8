"""Any model output and any user message give SSE that a spec-compliant parser reads exactly."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.agents.base import TurnContext
from app.agents.conversational import ConversationalAgent
from app.llm.scripted import ScriptedChatModel
from app.streaming.buffer import InMemoryStreamBuffer
from app.streaming.events import OnboardingProgress
from app.streaming.generation import Generation, GenerationOutcome
from tests.fixtures.accounts import new_account
from tests.fixtures.server import live_server, make_settings
from tests.fixtures.streams import SSEEvent, SSEParser, read_stream, stream_params
from tests.property.strategies import chunk_lists, stored_form, user_messages

# Only LF line ends, two lines per event: nothing the model writes can start a line on the wire.
FRAMES = re.compile(r"(?:id: [0-9a-f-]{36}:\d+\ndata: [^\r\n]*\n\n)*")


def check_events(events: list[SSEEvent], message_id: str) -> tuple[str, dict[str, Any]]:
    """DESIGN.md §3 for one stream; returns the chunk concatenation and the terminal event."""
    assert [e.id for e in events] == [f"{message_id}:{seq}" for seq in range(len(events))]
    assert all(e.event == "message" for e in events)
    payloads = [json.loads(e.data) for e in events]
    assert all(isinstance(p, dict) for p in payloads)
    types = [p["type"] for p in payloads]
    assert types[0] == "start" and payloads[0]["message_id"] == message_id
    assert types[-1] in {"complete", "error"}
    assert set(types[1:-1]) <= {"chunk"}  # exactly one terminal event, last
    chunks = payloads[1:-1]
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert all(c["content"] for c in chunks)  # an empty model chunk is not an event
    return "".join(c["content"] for c in chunks), payloads[-1]


def parse_in_pieces(text: str, cuts: list[int]) -> SSEParser:
    """Feed the stream cut at arbitrary points, as a network would deliver it."""
    parser = SSEParser()
    start = 0
    for cut in sorted({min(c, len(text)) for c in cuts}) + [len(text)]:
        parser.feed(text[start:cut])
        start = cut
    return parser


async def generate(
    message: str, chunks: list[str], fail_after: int | None
) -> tuple[uuid.UUID, list[bytes], GenerationOutcome]:
    model = ScriptedChatModel(chunks=chunks, delay_s=0.0, fail_after=fail_after)
    agent = ConversationalAgent(model, 4000)
    saved: list[GenerationOutcome] = []

    async def finalise(outcome: GenerationOutcome) -> OnboardingProgress | None:
        saved.append(outcome)
        return None

    message_id = uuid.uuid4()
    buffer = InMemoryStreamBuffer()
    generation = Generation(
        message_id=message_id,
        conversation_id=uuid.uuid4(),
        user_message_id=uuid.uuid4(),
        chunks=agent.stream_response(TurnContext(message=message)),
        finalise=finalise,
        buffer=buffer,
        idle_timeout_s=10,
        disconnect_grace_s=10,
    )
    generation.start()
    frames = [frame async for frame in buffer.read(-1, idle_s=10) if frame is not None]
    outcome = await generation.wait()
    assert saved == [outcome]
    return message_id, frames, outcome


@settings(max_examples=100, deadline=None)
@given(
    message=user_messages,
    chunks=chunk_lists,
    fail_after=st.none() | st.integers(0, 30),
    cuts=st.lists(st.integers(0, 4000), max_size=8),
)
def test_generation_events_are_spec_compliant_sse_for_any_model_output(
    message: str, chunks: list[str], fail_after: int | None, cuts: list[int]
) -> None:
    message_id, frames, outcome = asyncio.run(generate(message, chunks, fail_after))
    text = b"".join(frames).decode("utf-8")  # strict: the wire is valid UTF-8
    assert FRAMES.fullmatch(text), text
    parser = parse_in_pieces(text, cuts)
    assert parser.comments == [] and len(parser.events) == text.count("\n\n")
    streamed, terminal = check_events(parser.events, str(message_id))
    fails = fail_after is not None
    produced = chunks[:fail_after] if fails else chunks
    assert streamed == stored_form(produced) == outcome.content
    if fails:
        assert terminal["type"] == "error"
        assert (terminal["code"], terminal["retryable"]) == ("llm_error", True)
    else:
        assert terminal["type"] == "complete"
        assert terminal["chunks"] == len(parser.events) - 2 == outcome.chunk_count


def test_endpoint_events_are_spec_compliant_sse_for_any_message_and_output(
    tmp_path: Path, database_url: str
) -> None:
    """The same over a real socket, through the whole app, for a smaller sample."""
    model = ScriptedChatModel(chunks=[], delay_s=0.0)
    app_settings = make_settings(
        tmp_path, database_url=database_url, rate_limit_messages_per_hour=100_000
    )
    with asyncio.Runner() as runner:
        server_context = live_server(app_settings, model)
        server = runner.run(server_context.__aenter__())
        client = server.client()
        try:
            account = runner.run(new_account(client))

            @settings(max_examples=30, deadline=None)
            @given(message=user_messages, chunks=chunk_lists)
            def check(message: str, chunks: list[str]) -> None:
                model.chunks = chunks
                reader = runner.run(
                    read_stream(client, stream_params(account.access_token, message))
                )
                assert reader.status_code == 200, reader.body
                assert reader.text.startswith("retry: ")
                assert reader.parser.comments == []
                streamed, terminal = check_events(reader.events, reader.message_id)
                assert terminal["type"] == "complete"
                assert streamed == stored_form(chunks)

            check()
        finally:
            runner.run(client.aclose())
            runner.run(server_context.__aexit__(None, None, None))
