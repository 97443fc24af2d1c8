"""One answer from the real local model (SmolLM2 on llama.cpp), streamed end to end and stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.accounts import new_account
from tests.fixtures.database import DbProbe
from tests.fixtures.server import live_server, make_settings
from tests.fixtures.streams import assert_well_formed, read_stream, stream_params

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def test_local_model_answer_streams_in_chunks_and_is_stored_exactly(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=sqlite_url,
        llm_model="local",
        llm_max_tokens=24,
        llm_temperature=0.0,
        stream_idle_timeout_s=120,
    )
    async with live_server(settings, chat_model=None) as server:
        async with server.client() as client:
            account = await new_account(client)
            reader = await read_stream(
                client, stream_params(account.access_token, "Say hello in one short sentence.")
            )
    assert reader.status_code == 200, reader.body
    assert_well_formed(reader)
    assert reader.types[-1] == "complete", reader.payloads[-1]
    assert reader.types.count("chunk") >= 2  # token by token, not one block
    assert reader.chunk_text.strip()
    async with DbProbe(sqlite_url) as db:
        stored = await db.message(reader.message_id)
    assert stored is not None and stored.status == "complete"
    assert stored.content.encode() == reader.chunk_text.encode()
    assert stored.chunk_count == reader.types.count("chunk")
    assert stored.ttft_ms is not None
