"""No buffering anywhere: chunks reach the client at the model's pace, over a real socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from app.agents.base import TurnContext
from app.agents.conversational import ConversationalAgent
from app.agents.onboarding import OnboardingAgent
from app.core.config import DEFAULT_ONBOARDING_STEPS
from tests.fixtures.accounts import new_account
from tests.fixtures.models import RecordingModel, recording_model, words
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import ONBOARDING_STREAM_PATH, STREAM_PATH, read_stream, stream_params

pytestmark = pytest.mark.timeout(60)

CHUNKS = 20
DELAY_S = 0.05


def _latencies(model: RecordingModel, arrivals: list[float]) -> list[float]:
    assert len(arrivals) == len(model.emitted) == CHUNKS
    return [
        arrived - emitted for (emitted, _), arrived in zip(model.emitted, arrivals, strict=True)
    ]


@pytest.mark.parametrize("path", [STREAM_PATH, ONBOARDING_STREAM_PATH])
async def test_chunks_reach_the_client_at_the_model_pace_not_in_one_burst(
    live_server_factory: AppFactory, path: str
) -> None:
    model = recording_model(words(CHUNKS), delay_s=DELAY_S)
    async with live_server_factory(model=model) as server:
        async with server.client() as client:
            account = await new_account(client)
            reader = await read_stream(client, stream_params(account.access_token), path=path)
    # The onboarding agent adds the configured next question as one last chunk of its own.
    chunk_events = [e for e in reader.events if e.json["type"] == "chunk"][:CHUNKS]
    arrivals = [e.received_at for e in chunk_events]
    assert reader.types[-1] == "complete"
    # Each chunk reaches the client right after the model produced it...
    assert max(_latencies(model, arrivals)) < 0.25
    # ...so arrivals spread over the model's ~1 s instead of landing together at the end.
    assert arrivals[-1] - arrivals[0] >= 0.7 * DELAY_S * (CHUNKS - 1)
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    assert sum(gap >= DELAY_S / 2 for gap in gaps) >= len(gaps) * 3 // 4


class _AsyncOnlyModel(RecordingModel):
    """Fails if anything takes the synchronous path: only `astream` may be used."""

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        raise AssertionError("the synchronous stream was used")


@pytest.mark.parametrize("agent_kind", ["conversational", "onboarding"])
async def test_base_agent_stream_response_yields_each_chunk_as_astream_produces_it(
    agent_kind: str,
) -> None:
    model = _AsyncOnlyModel.from_text(words(CHUNKS), delay_s=DELAY_S)
    assert isinstance(model, _AsyncOnlyModel)
    agent = (
        ConversationalAgent(model, 4000)
        if agent_kind == "conversational"
        else OnboardingAgent(model, DEFAULT_ONBOARDING_STEPS)
    )
    pieces: list[str] = []
    arrivals: list[float] = []
    async for piece in agent.stream_response(TurnContext(message="Pace yourself")):
        arrivals.append(time.perf_counter())
        pieces.append(piece)
    if isinstance(agent, OnboardingAgent):
        assert pieces.pop() == "\n\n" + agent.follow_up(0)
        arrivals.pop()
    assert pieces == model.chunks
    assert len(model.calls) == 1
    assert max(_latencies(model, arrivals)) < 0.1  # vs ~1 s if the pieces were collected first
    assert arrivals[-1] - arrivals[0] >= 0.8 * DELAY_S * (CHUNKS - 1)
