"""app/llm/factory: LLM_MODEL picks the model; a spec it does not understand is a clear error."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI

from app.llm.factory import ChatModelProvider, UnknownModel, build_chat_model
from app.llm.local import LocalModelMissing
from app.llm.scripted import DEFAULT_SCRIPTED_TEXT, ScriptedChatModel
from tests.fixtures.models import scripted_model
from tests.fixtures.server import make_settings


def test_scripted_spec_builds_the_scripted_model_from_settings(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        llm_model="scripted",
        scripted_text="One two three.",
        scripted_chunk_delay_s=0.5,
        scripted_fail_after=2,
        scripted_stall_after=1,
    )
    model = build_chat_model(settings)
    assert isinstance(model, ScriptedChatModel)
    assert model.chunks == ["One ", "two ", "three."]
    assert (model.delay_s, model.fail_after, model.stall_after) == (0.5, 2, 1)


def test_scripted_model_defaults_to_its_demo_text(tmp_path: Path) -> None:
    model = build_chat_model(make_settings(tmp_path, llm_model="scripted"))
    assert isinstance(model, ScriptedChatModel)
    assert "".join(model.chunks) == DEFAULT_SCRIPTED_TEXT
    assert 40 <= len(model.chunks) <= 80  # "about 60 chunks"


def test_scripted_chunk_count_repeats_the_text(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, scripted_text="a b", scripted_chunks=5)
    model = build_chat_model(settings)
    assert isinstance(model, ScriptedChatModel)
    assert model.chunks == ["a ", "b", "a ", "b", "a "]


def test_openai_spec_builds_a_chat_openai_for_the_configured_server(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        llm_model=" openai:smollm2 ",
        openai_base_url="http://127.0.0.1:9/v1",
        llm_max_tokens=24,
        llm_temperature=0.3,
    )
    model = build_chat_model(settings)
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "smollm2"
    assert model.openai_api_base == "http://127.0.0.1:9/v1"
    assert (model.max_tokens, model.temperature, model.streaming) == (24, 0.3, True)
    assert model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == "not-needed"


def test_openai_api_key_is_passed_on(tmp_path: Path) -> None:
    model = build_chat_model(make_settings(tmp_path, llm_model="openai:x", openai_api_key="sk-1"))
    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == "sk-1"


@pytest.mark.parametrize(
    "spec", ["gpt-4o", "openai:", ":gpt-4o", "cohere:command", "Scripted", "local:x", ""]
)
def test_unknown_spec_is_a_clear_error(tmp_path: Path, spec: str) -> None:
    with pytest.raises(UnknownModel) as raised:
        build_chat_model(make_settings(tmp_path, llm_model=spec))
    message = str(raised.value)
    assert f"LLM_MODEL={spec.strip()!r} is not understood" in message
    for option in ("local", "scripted", "openai:<model>", "anthropic:<model>", "ollama:<model>"):
        assert option in message


@pytest.mark.parametrize("provider", ["anthropic", "ollama"])
def test_optional_provider_builds_or_names_the_missing_extra(tmp_path: Path, provider: str) -> None:
    settings = make_settings(tmp_path, llm_model=f"{provider}:some-model")
    if importlib.util.find_spec(f"langchain_{provider}") is None:
        with pytest.raises(UnknownModel, match=f"uv sync --extra {provider}"):
            build_chat_model(settings)
    else:
        assert type(build_chat_model(settings)).__module__.startswith(f"langchain_{provider}")


def test_local_model_with_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.gguf"
    settings = make_settings(tmp_path, llm_model="local", local_model_path=missing)
    with pytest.raises(LocalModelMissing, match=f"LOCAL_MODEL_PATH {missing} is not a file"):
        build_chat_model(settings)


async def test_provider_returns_the_model_it_was_given(tmp_path: Path) -> None:
    given = scripted_model("x")
    provider = ChatModelProvider(make_settings(tmp_path, llm_model="openai:gpt"), given)
    assert await provider.get() is given
    assert provider.name == "openai:gpt"


async def test_provider_builds_the_model_once_for_concurrent_callers(tmp_path: Path) -> None:
    provider = ChatModelProvider(make_settings(tmp_path, llm_model="scripted"))
    first, second, third = await asyncio.gather(provider.get(), provider.get(), provider.get())
    assert isinstance(first, ScriptedChatModel)
    assert first is second is third
    assert await provider.get() is first


async def test_provider_reports_a_bad_spec_when_first_used(tmp_path: Path) -> None:
    provider = ChatModelProvider(make_settings(tmp_path, llm_model="nonsense"))
    with pytest.raises(UnknownModel):
        await provider.get()
