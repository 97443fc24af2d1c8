"""SCRIPTED_ECHO_PROMPT: the scripted model says the system prompt it was given."""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import HumanMessage, SystemMessage

from app.llm.factory import build_chat_model
from app.llm.prompt_echo import PromptEchoModel
from tests.fixtures.server import make_settings

PROMPT = "You are ChatStream.\nWhat you know about the user:\n- Their name: Ada"


async def test_the_echo_model_streams_each_calls_system_prompt(tmp_path: Path) -> None:
    model = build_chat_model(
        make_settings(tmp_path, llm_model="scripted", scripted_echo_prompt=True)
    )
    assert isinstance(model, PromptEchoModel)
    pieces = [
        str(chunk.content)
        async for chunk in model.astream([SystemMessage(PROMPT), HumanMessage("Hi")])
    ]
    assert len(pieces) > 5 and "".join(pieces) == PROMPT
    other = [SystemMessage("Another prompt."), HumanMessage("Hi")]
    assert model.invoke(other).content == "Another prompt."


def test_without_the_setting_the_scripted_model_says_its_text(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, llm_model="scripted", scripted_text="Fixed.")
    model = build_chat_model(settings)
    assert not isinstance(model, PromptEchoModel)
    assert model.invoke([SystemMessage(PROMPT), HumanMessage("Hi")]).content == "Fixed."
