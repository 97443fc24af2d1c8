"""A deterministic chat model for tests and benchmarks: fixed text, set pace, failures on demand."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, ClassVar, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import BaseModel, PrivateAttr

from app.core.keepalive import keep_alive
from app.core.queue_position import queue_listener
from app.llm.turn_queue import TurnQueue

DEFAULT_SCRIPTED_TEXT = (
    "Hello! I'm the scripted assistant, a stand-in model that answers the same way every time. "
    "Here is what I can show you:\n\n"
    "- **Streaming** arrives word by word, at a steady pace.\n"
    "- `Code` and *emphasis* render as markdown.\n\n"
    "```python\nprint('hello, stream')\n```\n\n"
    "Every chunk you see is stored, byte for byte, once the answer is complete. "
    "Ask me anything else and I will answer just like this again."
)

_CHUNK_PATTERN = re.compile(r"\S+\s*|\s+")

# Validated once; each chunk is a shallow copy with its own text. Constructing a message chunk
# runs LangChain's validators, which cost more than everything else a chunk does on its way to
# the client, and a stand-in model should cost as little as a real provider's network read.
_EMPTY_MESSAGE = AIMessageChunk(content="")
_EMPTY_CHUNK = ChatGenerationChunk(message=_EMPTY_MESSAGE)

M = TypeVar("M", bound=BaseModel)


def _with_fields(template: M, **fields: Any) -> M:
    """A copy of a validated model with some fields replaced by values of their own type.

    What `model_copy(update=...)` does (no validation), without its generic deep-copy
    machinery: a new instance sharing the template's other values, which are never mutated.
    """
    copy = template.__class__.__new__(template.__class__)
    object.__setattr__(copy, "__dict__", {**template.__dict__, **fields})
    object.__setattr__(copy, "__pydantic_extra__", template.__pydantic_extra__)
    object.__setattr__(
        copy, "__pydantic_fields_set__", template.__pydantic_fields_set__ | fields.keys()
    )
    object.__setattr__(copy, "__pydantic_private__", template.__pydantic_private__)
    return copy


def _message_template() -> AIMessageChunk:
    """An empty chunk carrying the id of one generation, as a provider's chunks do (OpenAI's
    `chatcmpl-...`); LangChain then leaves each chunk's id alone instead of setting it."""
    return _with_fields(_EMPTY_MESSAGE, id=f"scripted-{uuid.uuid4().hex}")


def _chunk(message_template: AIMessageChunk, piece: str) -> ChatGenerationChunk:
    message = _with_fields(message_template, content=piece)
    return _with_fields(_EMPTY_CHUNK, message=message, text=piece)


class ScriptedModelFailure(RuntimeError):
    """Raised on purpose after SCRIPTED_FAIL_AFTER chunks."""


def split_into_chunks(text: str) -> list[str]:
    """Word-sized chunks whose concatenation is exactly `text`."""
    return _CHUNK_PATTERN.findall(text)


class ScriptedChatModel(BaseChatModel):
    """Says its script chunk by chunk. Given its own partial answer as the last message (a
    Continue, app/llm/continuation.py), it goes on with the script from where that stops."""

    continues_open_turn: ClassVar[bool] = True
    # Streamed from `_astream` when nothing listens to LangChain's run (model_stream.py).
    streams_bare: ClassVar[bool] = True
    chunks: list[str]
    delay_s: float = 0.02
    fail_after: int | None = None
    # Only the first this-many generations fail (then answers succeed); None: every one fails.
    fail_times: int | None = None
    generations: int = 0
    stall_after: int | None = None
    # One answer at a time, the others waiting in line, as the local model's do.
    one_at_a_time: bool = False
    _turns: TurnQueue = PrivateAttr(default_factory=TurnQueue)

    @classmethod
    def from_text(
        cls, text: str | None = None, *, chunk_count: int | None = None, **kwargs: Any
    ) -> ScriptedChatModel:
        pieces = split_into_chunks(text if text is not None else DEFAULT_SCRIPTED_TEXT) or [""]
        if chunk_count is not None:
            pieces = [pieces[i % len(pieces)] for i in range(chunk_count)]
        return cls(chunks=pieces, **kwargs)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _script(self) -> Sequence[str]:
        return self.chunks

    def _resume_at(self, messages: list[BaseMessage]) -> int:
        """The chunk a continued answer resumes at: past the script's part that is its prefill."""
        last = messages[-1] if messages else None
        if not isinstance(last, AIMessage) or not isinstance(last.content, str):
            return 0
        script, told = self._script(), 0
        for index, piece in enumerate(script):
            if told == len(last.content):
                return index
            told += len(piece)
        return len(script) if "".join(script) == last.content else 0

    def _fails_now(self) -> int | None:
        """The chunk count this generation fails after, or None; counts the generation."""
        self.generations += 1
        if self.fail_times is not None and self.generations > self.fail_times:
            return None
        return self.fail_after

    def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        # The script itself, not wrapped in one more async generator (see model_stream.py).
        if not self.one_at_a_time:
            return self._astream_script(messages)
        return self._astream_in_turn(messages)

    async def _astream_in_turn(
        self, messages: list[BaseMessage]
    ) -> AsyncIterator[ChatGenerationChunk]:
        async with self._turns.turn(queue_listener(), still_waiting=keep_alive):
            async for chunk in self._astream_script(messages):
                yield chunk

    async def _astream_script(
        self, messages: list[BaseMessage]
    ) -> AsyncIterator[ChatGenerationChunk]:
        fail_after = self._fails_now()
        template = _message_template()
        start = self._resume_at(messages)
        loop = asyncio.get_running_loop()
        # Each chunk is due one delay after the one before it, counted from the start, not from
        # when the last sleep happened to end: a busy event loop wakes a sleep late, and sleeping
        # a full delay after every late wake-up would slow the pace (500 chunks/s became under 300
        # on a loaded machine). A chunk is never early; a late one is followed by the next on time.
        due = loop.time()
        for index, piece in enumerate(self._script()[start:], start):
            if fail_after is not None and index >= fail_after:
                raise ScriptedModelFailure(f"scripted failure after {index} chunks")
            if self.stall_after is not None and index >= self.stall_after:
                await asyncio.Event().wait()  # silent until cancelled
            if self.delay_s:
                due += self.delay_s
                await asyncio.sleep(max(0.0, due - loop.time()))
            yield _chunk(template, piece)
        if fail_after is not None and fail_after >= len(self._script()):
            raise ScriptedModelFailure("scripted failure at the end")

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        fail_after = self._fails_now()
        template = _message_template()
        start = self._resume_at(messages)
        for index, piece in enumerate(self._script()[start:], start):
            if fail_after is not None and index >= fail_after:
                raise ScriptedModelFailure(f"scripted failure after {index} chunks")
            if self.delay_s:
                time.sleep(self.delay_s)
            yield _chunk(template, piece)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(chunk.text for chunk in self._stream(messages, stop, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
