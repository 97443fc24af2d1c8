"""BaseAgent: turns a turn's context into chat messages and streams the model's answer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from app.llm.continuation import continuation_messages
from app.llm.model_stream import chunk_message, stream_chunks


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    role: str  # "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What an agent needs to answer one user message."""

    message: str
    display_name: str | None = None
    history: Sequence[HistoryEntry] = ()
    profile: Mapping[str, str] = field(default_factory=dict)
    # Onboarding only: the index of the question this message answers.
    onboarding_step: int = 0
    # Continue: the answer so far, which the model is to go on from (app/llm/continuation.py).
    prefill: str = ""


def content_text(content: object) -> str:
    """The text of a LangChain message chunk (providers send a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
        return "".join(parts)
    return ""


def history_within_budget(history: Sequence[HistoryEntry], char_budget: int) -> list[BaseMessage]:
    """The latest history that fits the budget, oldest first (small models have short contexts)."""
    kept: list[BaseMessage] = []
    used = 0
    for entry in reversed(history):
        used += len(entry.content)
        if used > char_budget:
            break
        kept.append(
            HumanMessage(entry.content) if entry.role == "user" else AIMessage(entry.content)
        )
    kept.reverse()
    return kept


class BaseAgent(ABC):
    name: str = "base"
    # A cap on this agent's answers below the model's own, or None for the model's.
    max_tokens: int | None = None

    def __init__(self, model: BaseChatModel) -> None:
        self.model = model

    @abstractmethod
    def build_messages(self, context: TurnContext) -> list[BaseMessage]: ...

    async def stream_response(self, context: TurnContext) -> AsyncIterator[str]:
        """Yield each piece of text as the model produces it, no buffering (app/llm/model_stream.py
        says when LangChain's `astream` is between)."""
        messages = self.build_messages(context)
        if context.prefill:
            messages = continuation_messages(self.model, messages, context.prefill)
        chunks = (
            stream_chunks(self.model, messages)
            if self.max_tokens is None
            else stream_chunks(self.model, messages, max_tokens=self.max_tokens)
        )
        async for chunk in chunks:
            # PostgreSQL text cannot hold NUL, and nothing can encode a lone surrogate: clean
            # them here, so what streams is exactly what is saved.
            text = content_text(chunk_message(chunk).content).replace("\x00", "")
            # Not kept alive while the model makes the next one (see model_stream.py).
            del chunk
            if not text.isascii():
                text = text.encode("utf-8", "replace").decode("utf-8")
            if text:
                yield text

    async def respond(self, context: TurnContext) -> str:
        """The whole answer at once (the same stream, joined)."""
        return "".join([piece async for piece in self.stream_response(context)])
