"""The scripted model answering with the system prompt it was given (SCRIPTED_ECHO_PROMPT).

A test tool: what the prompt says (the user's name and onboarding answers, as settings left
them) then shows on the page and in the stored answer, where a browser test can read it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage, SystemMessage
from langchain_core.outputs import ChatGenerationChunk

from app.llm.scripted import ScriptedChatModel, split_into_chunks


def _system_prompt(messages: list[BaseMessage]) -> str:
    return next((str(m.content) for m in messages if isinstance(m, SystemMessage)), "")


class PromptEchoModel(ScriptedChatModel):
    """Says the system prompt of each call, chunk by chunk, at the scripted pace."""

    def _echoing(self, messages: list[BaseMessage]) -> ScriptedChatModel:
        return self.model_copy(update={"chunks": split_into_chunks(_system_prompt(messages))})

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        echo = self._echoing(messages)
        async for chunk in ScriptedChatModel._astream(echo, messages, stop, run_manager, **kwargs):
            yield chunk

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from ScriptedChatModel._stream(
            self._echoing(messages), messages, stop, run_manager, **kwargs
        )
