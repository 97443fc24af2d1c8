"""Real language models: the bundled GGUF on llama.cpp, and the same GGUF behind an OpenAI API.

Answers are short (LLM_MAX_TOKENS=24) so each generation takes a second or two on two cores.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from app.core.config import Settings
from app.llm.factory import build_chat_model
from app.llm.local import LocalLlamaChatModel, bundled_model_path
from tests.fixtures.accounts import bearer, new_client_id, new_user_token
from tests.fixtures.processes import llama_cpp_server
from tests.fixtures.server import live_server, make_settings, running_app

# One event loop for the module: langchain-openai caches its async HTTP client per base URL,
# and a client made in one test's loop cannot be used from the next test's loop.
pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

MAX_TOKENS = 24
PROMPT = [HumanMessage("Say hello in one short sentence.")]


def _local_settings(tmp_path: Path, **overrides: object) -> Settings:
    return make_settings(tmp_path, llm_model="local", llm_max_tokens=MAX_TOKENS, **overrides)


# The embedded model ---------------------------------------------------------------------------


async def test_factory_loads_the_bundled_gguf_and_it_answers(tmp_path: Path) -> None:
    model = await asyncio.to_thread(build_chat_model, _local_settings(tmp_path))
    assert isinstance(model, LocalLlamaChatModel)
    assert Path(model.model_path) == bundled_model_path()
    assert model.max_tokens == MAX_TOKENS
    answer = await model.ainvoke(PROMPT)
    assert isinstance(answer.content, str) and answer.content.strip()


async def test_local_generations_run_one_at_a_time(tmp_path: Path) -> None:
    model = await asyncio.to_thread(build_chat_model, _local_settings(tmp_path))
    order: list[str] = []
    texts: dict[str, str] = {"a": "", "b": ""}

    async def generate(label: str) -> None:
        async for chunk in model.astream(PROMPT):
            if chunk.content:
                order.append(label)
                texts[label] += str(chunk.content)

    await asyncio.gather(generate("a"), generate("b"))
    assert texts["a"].strip() and texts["b"].strip()
    assert order.count("a") >= 2 and order.count("b") >= 2
    # One whole answer, then the other: llama.cpp is never driven by two generations at once.
    first = order[0]
    switch = order.index("b" if first == "a" else "a")
    assert set(order[:switch]) == {first}
    assert first not in order[switch:]


async def test_local_model_answers_through_the_api_while_the_server_stays_responsive(
    tmp_path: Path, sqlite_url: str
) -> None:
    # The second answer waits for the first (one model, one generation at a time): give the
    # wait room on a busy machine, where it counts against the idle timeout.
    settings = _local_settings(tmp_path, database_url=sqlite_url, stream_idle_timeout_s=60)
    async with (
        live_server(settings, chat_model=None) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=60) as client,
    ):
        token = await new_user_token(client)

        async def send(text: str) -> dict[str, object]:
            response = await client.post(
                "/api/v1/chat/message",
                json={"message": text, "client_message_id": new_client_id()},
                headers=bearer(token),
            )
            assert response.status_code == 200, response.text
            answer: dict[str, object] = response.json()["assistant_message"]
            return answer

        turns = asyncio.gather(send("Say hello."), send("Name a colour."))
        health_latencies_s: list[float] = []
        while not turns.done():
            started = time.perf_counter()
            assert (await client.get("/healthz")).status_code == 200
            health_latencies_s.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)
        answers = await turns

    for answer in answers:
        assert answer["status"] == "complete"
        assert isinstance(answer["content"], str) and answer["content"].strip()
    assert len(health_latencies_s) >= 3  # the probe ran while the generations did
    assert max(health_latencies_s) < 1.0, health_latencies_s


# An OpenAI-compatible server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def openai_base_url() -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on the bundled GGUF, for this module."""
    with llama_cpp_server(n_ctx=1024) as base_url:
        yield base_url


def _openai_settings(tmp_path: Path, base_url: str, **overrides: object) -> Settings:
    return make_settings(
        tmp_path,
        llm_model="openai:smollm2",
        openai_base_url=base_url,
        llm_max_tokens=MAX_TOKENS,
        **overrides,
    )


async def test_openai_model_answers_through_the_api(
    tmp_path: Path, sqlite_url: str, openai_base_url: str
) -> None:
    settings = _openai_settings(tmp_path, openai_base_url, database_url=sqlite_url)
    async with running_app(settings, chat_model=None) as h:
        token = await new_user_token(h.client)
        response = await h.client.post(
            "/api/v1/chat/message",
            json={"message": "Say hello.", "client_message_id": new_client_id()},
            headers=bearer(token),
        )
        assert response.status_code == 200, response.text
        answer = response.json()["assistant_message"]
        assert answer["status"] == "complete"
        assert answer["content"].strip()


async def test_openai_model_yields_the_answer_piece_by_piece(
    tmp_path: Path, openai_base_url: str
) -> None:
    model = build_chat_model(_openai_settings(tmp_path, openai_base_url))
    assert isinstance(model, ChatOpenAI)
    pieces = [str(chunk.content) async for chunk in model.astream(PROMPT) if chunk.content]
    assert len(pieces) >= 2
    assert "".join(pieces).strip()
