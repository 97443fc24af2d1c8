"""A chat model's answer as message chunks: from the model itself, or through LangChain's run.

`BaseChatModel.astream` wraps a model's own streaming (`_astream`) in a run: callbacks and
tracers are told of its start, of every chunk and of its end; each chunk gets the run's id and
metadata; at the end all the chunks are merged into one message for the tracers. On paced
answers that run cost about a tenth of the server's CPU in `make bench` (e), and nothing reads
it unless a callback, a rate limiter, verbose or debug output or LangSmith tracing is
configured.

So the models that ship here (the local model, the scripted one: `streams_bare`) are streamed
from their own `_astream` when nothing listens to the run. Any other model (a provider's), or
one of ours with a listener, goes through `astream`, as LangChain means it to.

The bare chunks are the model's own generation chunks, given as they are rather than unwrapped
by one more async generator: each layer of them keeps an `asend` and its last chunk alive while
the model makes the next one, for every open stream, and the collector walks them all
(bench/README.md, "What a young collection walks"). `chunk_message` reads the message of either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from langchain_core.globals import get_debug
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, BaseMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from langsmith.utils import tracing_is_enabled


def runs_bare(model: BaseChatModel) -> bool:
    """Is the model one of ours, with nothing listening to a run of it?"""
    return (
        getattr(type(model), "streams_bare", False)
        and not model.callbacks
        and not model.verbose
        and model.rate_limiter is None
        and not get_debug()
        and not tracing_is_enabled()  # LangSmith's environment, read once, or its context
    )


ModelChunk = ChatGenerationChunk | BaseMessageChunk


def stream_chunks(
    model: BaseChatModel, messages: list[BaseMessage], **kwargs: Any
) -> AsyncIterator[ModelChunk]:
    """The model's answer to `messages`, chunk by chunk (`kwargs`: the call's options, such as
    max_tokens): the model's own generation chunks when it runs bare, else LangChain's
    message chunks."""
    if runs_bare(model):
        return model._astream(messages, **kwargs)  # noqa: SLF001 - see the docstring
    return model.astream(messages, **kwargs)


def chunk_message(chunk: ModelChunk) -> BaseMessageChunk:
    """The message chunk of what `stream_chunks` gives."""
    return chunk.message if isinstance(chunk, ChatGenerationChunk) else chunk
