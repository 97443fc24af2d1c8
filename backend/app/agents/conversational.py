"""The everyday assistant: a system prompt shaped by what onboarding learned, and recent history."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from app.agents.base import BaseAgent, TurnContext, history_within_budget

PROFILE_LABELS = {
    "name": "Their name",
    "role": "What they do",
    "goals": "What they want help with",
    "style": "How they like answers",
}


def system_prompt(context: TurnContext) -> str:
    lines = [
        "You are ChatStream, a helpful, friendly assistant.",
        "Answer clearly and accurately. Use markdown for lists and code when it helps.",
    ]
    profile = {k: v for k, v in context.profile.items() if v}
    name = profile.get("name") or context.display_name
    if name:
        profile.setdefault("name", name)
    if profile:
        lines.append("What you know about the user:")
        for key, value in profile.items():
            lines.append(f"- {PROFILE_LABELS.get(key, key.capitalize())}: {value}")
        if "style" in profile:
            lines.append("Follow their preferred answer style.")
    return "\n".join(lines)


class ConversationalAgent(BaseAgent):
    name = "conversational"

    def __init__(self, model: BaseChatModel, history_char_budget: int) -> None:
        super().__init__(model)
        self.history_char_budget = history_char_budget

    def build_messages(self, context: TurnContext) -> list[BaseMessage]:
        return [
            SystemMessage(system_prompt(context)),
            *history_within_budget(context.history, self.history_char_budget),
            HumanMessage(context.message),
        ]
