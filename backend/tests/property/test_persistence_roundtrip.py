"""Any chunk sequence from the model is stored exactly as the concatenation the client received."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import given, settings

from app.llm.scripted import ScriptedChatModel
from app.orchestration.orchestrator import Orchestrator, Send
from app.schemas.auth import AuthUser
from app.streaming.sse import parse_event_id
from tests.fixtures.accounts import new_account, new_client_id, new_user_token
from tests.fixtures.database import DbProbe
from tests.fixtures.server import live_server, make_settings, running_app
from tests.fixtures.streams import SSEParser, read_stream, stream_params
from tests.property.strategies import chunk_lists, stored_form, user_messages


def test_stored_answer_equals_received_chunks_for_any_chunk_sequence(
    tmp_path: Path, database_url: str
) -> None:
    """Through the orchestrator, a real Generation and the real database (SQLite, PostgreSQL)."""
    model = ScriptedChatModel(chunks=[""], delay_s=0.0)
    app_settings = make_settings(
        tmp_path, database_url=database_url, rate_limit_messages_per_hour=100_000
    )
    with asyncio.Runner() as runner:
        app_context = running_app(app_settings, model)
        harness = runner.run(app_context.__aenter__())
        probe = DbProbe(database_url)
        try:
            token = runner.run(new_user_token(harness.client))
            me = runner.run(
                harness.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
            )
            user = AuthUser.model_validate(me.json())
            orchestrator: Orchestrator = harness.app.state.orchestrator

            async def one_turn(message: str) -> tuple[str, str, str]:
                turn = await orchestrator.send_chat(user, Send(message, new_client_id()))
                handle = await orchestrator.stream(turn)
                assert handle is not None and handle.generation is not None
                parser = SSEParser()
                async for frames in handle.source.read(handle.after_seq, idle_s=10):
                    if frames is not None:
                        parser.feed(frames.decode("utf-8"))
                await handle.generation.wait()
                received = "".join(
                    e.json["content"] for e in parser.events if e.json["type"] == "chunk"
                )
                event_id = parse_event_id(parser.events[0].id)
                assert event_id is not None
                stored = await probe.message(event_id.message_id)
                assert stored is not None
                assert (stored.status, stored.chunk_count) == ("complete", len(parser.events) - 2)
                return parser.events[-1].json["type"], received, stored.content

            @settings(max_examples=100, deadline=None)
            @given(message=user_messages, chunks=chunk_lists)
            def check(message: str, chunks: list[str]) -> None:
                model.chunks = chunks
                terminal, received, stored = runner.run(one_turn(message))
                assert terminal == "complete"
                assert stored.encode() == received.encode() == stored_form(chunks).encode()

            check()
        finally:
            runner.run(probe.dispose())
            runner.run(app_context.__aexit__(None, None, None))


def test_stored_answer_equals_streamed_chunks_over_a_real_socket(
    tmp_path: Path, database_url: str
) -> None:
    """The same, end to end through uvicorn, for a handful of sequences."""
    model = ScriptedChatModel(chunks=[""], delay_s=0.0)
    app_settings = make_settings(
        tmp_path, database_url=database_url, rate_limit_messages_per_hour=100_000
    )
    with asyncio.Runner() as runner:
        server_context = live_server(app_settings, model)
        server = runner.run(server_context.__aenter__())
        client = server.client()
        probe = DbProbe(database_url)
        try:
            account = runner.run(new_account(client))

            @settings(max_examples=10, deadline=None)
            @given(chunks=chunk_lists)
            def check(chunks: list[str]) -> None:
                model.chunks = chunks
                reader = runner.run(read_stream(client, stream_params(account.access_token)))
                assert reader.types[-1] == "complete", reader.body
                stored = runner.run(probe.message(reader.message_id))
                assert stored is not None and stored.status == "complete"
                assert stored.content.encode() == reader.chunk_text.encode()
                assert stored.content == stored_form(chunks)

            check()
        finally:
            runner.run(probe.dispose())
            runner.run(client.aclose())
            runner.run(server_context.__aexit__(None, None, None))
