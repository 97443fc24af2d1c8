"""One answer from the real local model (SmolLM2 on llama.cpp), streamed end to end and stored."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from tests.fixtures.accounts import new_account
from tests.fixtures.database import DbProbe
from tests.fixtures.server import LiveServer, live_server, make_settings
from tests.fixtures.streams import assert_well_formed, read_stream, start_stream, stream_params

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _local_model_server(
    tmp_path: Path, sqlite_url: str, *, max_tokens: int
) -> AbstractAsyncContextManager[LiveServer]:
    """The app with the real local model, deterministic (temperature 0) and patient."""
    settings = make_settings(
        tmp_path,
        database_url=sqlite_url,
        llm_model="local",
        llm_max_tokens=max_tokens,
        llm_temperature=0.0,
        stream_idle_timeout_s=120,
    )
    return live_server(settings, chat_model=None)


async def test_local_model_answer_streams_in_chunks_and_is_stored_exactly(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with _local_model_server(tmp_path, sqlite_url, max_tokens=24) as server:
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


async def test_local_model_continues_a_stopped_answer_from_an_open_assistant_turn(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with _local_model_server(tmp_path, sqlite_url, max_tokens=48) as server:
        async with server.client() as client:
            account = await new_account(client)
            params = stream_params(account.access_token, "Name three colours of the rainbow.")
            reader, task = start_stream(client, params)
            await reader.wait_for_events(6, timeout_s=120)
            stop = await client.post(
                f"/api/v1/chat/messages/{reader.message_id}/cancel", headers=account.auth
            )
            await task
            continued = await read_stream(
                client,
                {"token": account.access_token},
                path=f"/api/v1/chat/messages/{reader.message_id}/continue",
            )
    partial = stop.json()["content"]
    assert partial and partial == reader.chunk_text
    assert continued.payloads[0]["prefix"] == partial
    assert continued.types[-1] == "complete", continued.payloads[-1]
    assert continued.chunk_text.strip()  # the model wrote more, after the partial
    whole = continued.terminal["content"]
    assert whole == partial + continued.chunk_text
    async with DbProbe(sqlite_url) as db:
        stored = await db.message(reader.message_id)
    assert stored is not None and (stored.status, stored.content) == ("complete", whole)


def test_the_open_turn_prompt_ends_with_the_partial_answer_unclosed() -> None:
    from app.llm.local import bundled_model_path, load_local_model, open_turn_prompt

    model = load_local_model(
        bundled_model_path(), max_tokens=8, temperature=0.0, context_tokens=512, threads=1
    )
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Count to five."},
        {"role": "assistant", "content": "One, two,"},
    ]
    prompt, stop = open_turn_prompt(model.client, messages)
    # SmolLM2's template is ChatML: the assistant turn is opened and left open.
    assert prompt.endswith("<|im_start|>assistant\nOne, two,")
    assert prompt.count("<|im_start|>assistant") == 1
    assert "<|im_end|>" in stop
