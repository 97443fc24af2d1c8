"""app/llm/model_stream.py: our models stream bare when nothing listens to LangChain's run;
with a listener, or for any other model, the run is there and is told of every chunk."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import pytest
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.globals import set_debug
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk
from langsmith import utils as langsmith_utils

from app.agents.base import TurnContext
from app.agents.conversational import ConversationalAgent
from app.llm.model_stream import chunk_message, runs_bare, stream_chunks
from app.llm.scripted import ScriptedChatModel
from tests.fixtures.models import recording_model, scripted_model

pytestmark = pytest.mark.asyncio

TEXT = "One two three, four five."
ASK: list[BaseMessage] = [HumanMessage("go")]


class CountingHandler(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.starts = 0
        self.tokens: list[str] = []
        self.ends = 0

    async def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self.starts += 1

    async def on_llm_new_token(
        self, token: str | list[str | dict[str, Any]], **kwargs: Any
    ) -> None:
        assert isinstance(token, str)
        self.tokens.append(token)

    async def on_llm_end(self, *args: Any, **kwargs: Any) -> None:
        self.ends += 1


async def text_of(chunks: AsyncIterator[Any]) -> str:
    return "".join([str(chunk_message(chunk).content) async for chunk in chunks])


async def test_our_model_with_nothing_listening_streams_bare_and_says_the_same() -> None:
    model = scripted_model(TEXT)
    assert runs_bare(model)
    assert await text_of(stream_chunks(model, ASK)) == TEXT
    assert await text_of(model.astream(ASK)) == TEXT


async def test_a_callback_on_our_model_gets_the_run_and_every_chunk() -> None:
    handler = CountingHandler()
    model = scripted_model(TEXT, callbacks=[handler])
    assert not runs_bare(model)
    assert await text_of(stream_chunks(model, ASK)) == TEXT
    assert (handler.starts, handler.ends) == (1, 1)
    assert "".join(handler.tokens) == TEXT


def _read_environment_again() -> None:
    cast(Any, langsmith_utils.get_env_var).cache_clear()  # an lru_cache behind its overloads


@pytest.fixture
def fresh_environment() -> Iterator[None]:
    """LangSmith reads its environment once per process (a cache): read it again."""
    _read_environment_again()
    yield
    _read_environment_again()


@pytest.mark.usefixtures("fresh_environment")
async def test_tracing_turned_on_puts_the_run_back(monkeypatch: pytest.MonkeyPatch) -> None:
    model = scripted_model(TEXT)
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    assert not runs_bare(model)
    _read_environment_again()
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    assert runs_bare(model)


async def test_verbose_or_debug_output_puts_the_run_back() -> None:
    assert not runs_bare(scripted_model(TEXT, verbose=True))
    set_debug(True)
    try:
        assert not runs_bare(scripted_model(TEXT))
    finally:
        set_debug(False)
    assert runs_bare(scripted_model(TEXT))


async def test_another_model_always_streams_through_its_run() -> None:
    provider = GenericFakeChatModel(messages=iter([AIMessage(TEXT)]))
    assert not runs_bare(provider)
    assert await text_of(stream_chunks(provider, ASK)) == TEXT


async def test_the_calls_options_reach_the_model_either_way() -> None:
    bare = recording_model(TEXT)
    await text_of(stream_chunks(bare, ASK, max_tokens=7))
    handler = CountingHandler()
    watched = recording_model(TEXT, callbacks=[handler])
    await text_of(stream_chunks(watched, ASK, max_tokens=7))
    assert bare.options == [{"max_tokens": 7}]
    assert watched.options == [{"max_tokens": 7}]
    assert handler.starts == 1


async def test_an_agent_answers_through_it_with_the_models_whole_text() -> None:
    handler = CountingHandler()
    for model in (scripted_model(TEXT), scripted_model(TEXT, callbacks=[handler])):
        agent = ConversationalAgent(model, 1000)
        context = TurnContext(message="hello", history=(), display_name=str(uuid.uuid4()))
        assert await agent.respond(context) == TEXT
    assert "".join(handler.tokens) == TEXT


class HolderCountingModel(ScriptedChatModel):
    """Asked for each next chunk, notes how many references to its last chunk are left outside
    itself: while it makes the next one, nothing between it and the reader should keep one."""

    held_elsewhere: list[int] = []

    def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        return self._counting()

    async def _counting(self) -> AsyncIterator[ChatGenerationChunk]:
        last: list[ChatGenerationChunk] = []  # the model's own (only) reference
        for piece in self.chunks:
            if last:
                # getrefcount's argument and the list are the two references that are ours.
                self.held_elsewhere.append(sys.getrefcount(last[0]) - 2)
                last.clear()
            last.append(ChatGenerationChunk(message=AIMessageChunk(content=piece)))
            yield last[0]


async def test_no_layer_keeps_a_chunk_while_the_model_makes_the_next() -> None:
    # Every open stream's last chunk, kept by a layer, is young again at every collection
    # (bench/README.md, "What a young collection walks").
    model = HolderCountingModel(chunks=["One", " two", " three", " four"])
    assert runs_bare(model)
    agent = ConversationalAgent(model, 1000)
    context = TurnContext(message="hello", history=(), display_name="Ada")
    pieces = [piece async for piece in agent.stream_response(context)]
    assert "".join(pieces) == "One two three four"
    assert model.held_elsewhere == [0, 0, 0]
