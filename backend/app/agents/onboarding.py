"""The onboarding assistant: learns who a new user is, one configured question at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from app.agents.base import BaseAgent, TurnContext
from app.core.config import OnboardingStep


class OnboardingAgent(BaseAgent):
    """The model acknowledges each answer in its own words; the next question is then asked
    exactly as configured, so the conversation moves on even when a small model wanders."""

    name = "onboarding"
    max_tokens = 80

    def __init__(self, model: BaseChatModel, steps: Sequence[OnboardingStep]) -> None:
        super().__init__(model)
        self.steps = tuple(steps)

    def system_prompt(self, current_step: int, answers: Mapping[str, str]) -> str:
        step = self.steps[min(current_step, len(self.steps) - 1)]
        lines = [
            "You are ChatStream's onboarding assistant, welcoming a new user.",
            "Keep replies short: two or three sentences, warm and natural.",
        ]
        known = [(s.question, answers[s.key]) for s in self.steps if answers.get(s.key)]
        if known:
            lines.append("What the user has told you so far:")
            lines.extend(f"- {question} {answer}" for question, answer in known)
        lines.append(f'You asked: "{step.question}" The user\'s next message is their answer.')
        if current_step + 1 < len(self.steps):
            upcoming = self.steps[current_step + 1].question
            lines.append(
                "Reply with one short, friendly sentence acknowledging their answer. Do not ask "
                f'any question: the next one, "{upcoming}", is asked right after your reply.'
            )
        else:
            lines.append("That was the last question. Thank them in one short, friendly sentence.")
        return "\n".join(lines)

    def follow_up(self, current_step: int) -> str:
        """What always follows the model's reply: the next question, or the closing line."""
        if current_step + 1 < len(self.steps):
            return self.steps[current_step + 1].question
        return "You're all set! Your assistant now knows a little about you. Let's start chatting."

    async def stream_response(self, context: TurnContext) -> AsyncIterator[str]:
        wrote = False
        async for piece in super().stream_response(context):
            wrote = True
            yield piece
        yield ("\n\n" if wrote else "") + self.follow_up(context.onboarding_step)

    def build_messages(self, context: TurnContext) -> list[BaseMessage]:
        return [
            SystemMessage(self.system_prompt(context.onboarding_step, context.profile)),
            HumanMessage(context.message),
        ]
