"""Continue: how each kind of model is given a partial answer to go on from.

Every path ends the conversation with the partial answer as an assistant message; what a model
makes of that differs, so each kind of model takes the path that makes it write the rest:

- `open_turn`: models that render their own prompt (the local llama.cpp model, the scripted
  model) build it with the chat template, leave the assistant turn open and write the partial
  into it, so the model continues that very text (LocalLlamaChatModel).
- `prefill`: Anthropic's API takes a last assistant message as the start of the reply.
- `ask`: the others (OpenAI-compatible servers, Ollama) would answer anew after an assistant
  message, so they are told, after the partial, to write only the rest.
"""

from __future__ import annotations

from enum import StrEnum

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

CONTINUE_INSTRUCTION = (
    "Your previous reply was cut off. Continue it exactly where it stopped: do not repeat any "
    "of it and do not comment on it; write only the rest."
)


class ContinuationPath(StrEnum):
    OPEN_TURN = "open_turn"
    PREFILL = "prefill"
    ASK = "ask"


def continuation_path(model: BaseChatModel) -> ContinuationPath:
    if getattr(model, "continues_open_turn", False):
        return ContinuationPath.OPEN_TURN
    # By name: the Anthropic integration is an optional extra, not always importable.
    if type(model).__name__ == "ChatAnthropic":
        return ContinuationPath.PREFILL
    return ContinuationPath.ASK


def continuation_messages(
    model: BaseChatModel, messages: list[BaseMessage], prefill: str
) -> list[BaseMessage]:
    """The conversation for a model to continue `prefill`, its own partial answer."""
    continued = [*messages, AIMessage(prefill)]
    if continuation_path(model) is ContinuationPath.ASK:
        continued.append(HumanMessage(CONTINUE_INSTRUCTION))
    return continued
