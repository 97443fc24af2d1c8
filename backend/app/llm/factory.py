"""One factory from LLM_MODEL to a LangChain chat model, loaded once per process."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.language_models import BaseChatModel

from app.core.config import Settings
from app.llm.prompt_echo import PromptEchoModel
from app.llm.scripted import ScriptedChatModel

PROVIDERS = ("openai", "anthropic", "ollama")


class UnknownModel(ValueError):
    pass


def build_chat_model(settings: Settings) -> BaseChatModel:
    """Build the configured model. Blocking for `local` (loads the GGUF): call from a thread."""
    spec = settings.llm_model.strip()
    if spec == "scripted":
        scripted = PromptEchoModel if settings.scripted_echo_prompt else ScriptedChatModel
        return scripted.from_text(
            settings.scripted_text,
            chunk_count=settings.scripted_chunks,
            delay_s=settings.scripted_chunk_delay_s,
            fail_after=settings.scripted_fail_after,
            fail_times=settings.scripted_fail_times,
            stall_after=settings.scripted_stall_after,
            one_at_a_time=settings.scripted_one_at_a_time,
        )
    if spec == "local":
        from app.llm.local import load_local_model

        return load_local_model(
            settings.local_model_path,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            context_tokens=settings.llm_context_tokens,
            threads=settings.local_model_threads,
        )
    provider, sep, model_name = spec.partition(":")
    if not sep or provider not in PROVIDERS or not model_name:
        raise UnknownModel(
            f"LLM_MODEL={spec!r} is not understood; use local, scripted, "
            "openai:<model>, anthropic:<model> or ollama:<model>."
        )
    try:
        if provider == "openai":
            from langchain_openai import ChatOpenAI

            return ChatOpenAI(
                model=model_name,
                base_url=settings.openai_base_url,
                # A local OpenAI-compatible server needs no key, but the client insists on one.
                api_key=settings.openai_api_key or "not-needed",
                temperature=settings.llm_temperature,
                max_tokens=settings.llm_max_tokens,
                streaming=True,
            )
        if provider == "anthropic":
            from langchain_anthropic import ChatAnthropic

            kwargs: dict[str, Any] = {}
            if settings.anthropic_api_key:
                kwargs["api_key"] = settings.anthropic_api_key
            anthropic: BaseChatModel = ChatAnthropic(
                model=model_name,
                temperature=settings.llm_temperature,
                max_tokens=settings.llm_max_tokens,
                **kwargs,
            )
            return anthropic
        from langchain_ollama import ChatOllama

        ollama: BaseChatModel = ChatOllama(
            model=model_name,
            temperature=settings.llm_temperature,
            num_predict=settings.llm_max_tokens,
            base_url=settings.ollama_base_url,
        )
        return ollama
    except ImportError as exc:
        raise UnknownModel(
            f"LLM_MODEL={spec!r} needs an optional extra: `uv sync --extra {provider}`."
        ) from exc


class ChatModelProvider:
    """Holds the process's chat model; `get()` loads it on first use without blocking the loop."""

    def __init__(self, settings: Settings, model: BaseChatModel | None = None) -> None:
        self._settings = settings
        self._model = model
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        """The name recorded on each answer: the configured spec (`local`, `openai:<model>`)."""
        return self._settings.llm_model

    @property
    def loaded(self) -> BaseChatModel | None:
        """The model if it is loaded already, else None (then `get()` loads it)."""
        return self._model

    async def get(self) -> BaseChatModel:
        if self._model is None:
            async with self._lock:
                if self._model is None:
                    self._model = await asyncio.to_thread(build_chat_model, self._settings)
        return self._model
