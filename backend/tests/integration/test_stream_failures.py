"""A silent model times out, a failing model ends with llm_error; the partial answer is kept."""

from __future__ import annotations

import pytest

from tests.fixtures.accounts import new_account
from tests.fixtures.database import DbProbe
from tests.fixtures.models import recording_model, words
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import assert_well_formed, read_stream, stream_params

pytestmark = pytest.mark.timeout(60)


async def test_no_chunk_within_idle_timeout_ends_stream_with_timeout_and_saves_partial(
    live_server_factory: AppFactory, database_url: str
) -> None:
    model = recording_model(words(10), stall_after=3)
    async with live_server_factory(
        model=model, stream_idle_timeout_s=0.3, stream_ping_interval_s=0.1
    ) as server:
        async with server.client() as client:
            account = await new_account(client)
            reader = await read_stream(client, stream_params(account.access_token))
    assert_well_formed(reader)
    assert reader.types == ["start", "chunk", "chunk", "chunk", "error"]
    assert reader.terminal["code"] == "timeout"
    assert reader.terminal["retryable"] is True
    assert reader.terminal["message_id"] == reader.message_id
    assert model.stopped_early  # the stalled model call was abandoned, not left hanging
    async with DbProbe(database_url) as db:
        stored = await db.message(reader.message_id)
    assert stored is not None
    assert (stored.status, stored.error_code) == ("error", "timeout")
    assert stored.content == reader.chunk_text == "".join(model.chunks[:3])
    assert stored.chunk_count == 3


async def test_silent_model_before_first_chunk_times_out_with_empty_answer_saved(
    live_server_factory: AppFactory, database_url: str
) -> None:
    model = recording_model(words(5), stall_after=0)
    async with live_server_factory(model=model, stream_idle_timeout_s=0.3) as server:
        async with server.client() as client:
            account = await new_account(client)
            reader = await read_stream(client, stream_params(account.access_token))
    assert reader.types == ["start", "error"]
    assert reader.terminal["code"] == "timeout"
    async with DbProbe(database_url) as db:
        stored = await db.message(reader.message_id)
    assert stored is not None
    assert (stored.status, stored.error_code, stored.content) == ("error", "timeout", "")


async def test_model_error_mid_stream_ends_with_retryable_llm_error_and_saves_partial(
    live_server_factory: AppFactory, database_url: str
) -> None:
    model = recording_model(words(10), fail_after=4)
    async with live_server_factory(model=model) as server:
        async with server.client() as client:
            account = await new_account(client)
            reader = await read_stream(client, stream_params(account.access_token))
    assert_well_formed(reader)
    assert reader.types == ["start"] + ["chunk"] * 4 + ["error"]
    assert reader.terminal["code"] == "llm_error"
    assert reader.terminal["retryable"] is True
    assert "scripted failure" not in reader.terminal["message"]  # no internals leak out
    async with DbProbe(database_url) as db:
        stored = await db.message(reader.message_id)
    assert stored is not None
    assert (stored.status, stored.error_code) == ("error", "llm_error")
    assert stored.content == reader.chunk_text == "".join(model.chunks[:4])
    assert stored.chunk_count == 4
