"""Onboarding rules: where a user stands, what the first message says, how an answer advances.

The progress maths is here and nowhere else: the onboarding state read by the API, the
progress a finished answer reports, and the advance the final save writes all use `position`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.core.config import OnboardingStep, Settings
from app.db.base import utcnow
from app.db.crud import conversations as conversation_crud
from app.db.crud import messages as message_crud
from app.db.crud import onboarding as onboarding_crud
from app.db.crud import users as user_crud
from app.db.models import ConversationKind, OnboardingState, User
from app.db.session import Database
from app.schemas.onboarding import OnboardingRead, OnboardingStepRead
from app.schemas.profile import ANSWER_MAX_CHARS
from app.schemas.records import OnboardingAdvance
from app.streaming.events import OnboardingProgress

MAX_ANSWER_CHARS = ANSWER_MAX_CHARS
GREETING_MODEL = "onboarding-script"
# The step registration can answer: the display name typed there is what to call the user.
NAME_STEP_KEY = "name"


@dataclass(frozen=True, slots=True)
class OnboardingPosition:
    """A user's place in the onboarding: how many questions are answered, out of how many."""

    answered: int
    total_steps: int
    closed: bool = False  # marked complete in the database, whatever the step count says

    @property
    def step_index(self) -> int:
        """The question being asked now (the last one once all are answered)."""
        return min(self.answered, self.total_steps - 1)

    @property
    def progress(self) -> float:
        return round(min(self.answered, self.total_steps) / self.total_steps, 4)

    @property
    def completed(self) -> bool:
        return self.closed or self.answered >= self.total_steps

    def after_answer(self) -> OnboardingPosition:
        """Where the user stands once the current question is answered."""
        return OnboardingPosition(self.step_index + 1, self.total_steps)

    def report(self) -> OnboardingProgress:
        return OnboardingProgress(progress=self.progress, completed=self.completed)


def position(state: OnboardingState | None, total_steps: int) -> OnboardingPosition:
    if state is None:
        return OnboardingPosition(0, total_steps)
    return OnboardingPosition(state.current_step, total_steps, state.completed_at is not None)


def greeting(steps: Sequence[OnboardingStep], display_name: str | None, first_step: int) -> str:
    """The first assistant message of every onboarding conversation: it asks question
    `first_step` (the questions before it were answered at registration)."""
    hello = f"Hi {display_name}!" if display_name else "Hi, and welcome!"
    remaining = len(steps) - first_step
    if remaining <= 0:
        return f"{hello} I'm your ChatStream assistant. You're all set: let's start chatting."
    count = "1 quick question" if remaining == 1 else f"{remaining} quick questions"
    return (
        f"{hello} I'm your ChatStream assistant. Before we start, I'd like to learn a little "
        f"about you so I can help better: {count}.\n\n{steps[first_step].question}"
    )


def known_answers(steps: Sequence[OnboardingStep], display_name: str | None) -> dict[str, str]:
    """What registration already told: the name step is answered by the display name, so the
    onboarding never asks a user who just typed their name what to call them."""
    if display_name and any(step.key == NAME_STEP_KEY for step in steps):
        return {NAME_STEP_KEY: clean_answer(display_name)}
    return {}


def answered_in_a_row(steps: Sequence[OnboardingStep], answers: Mapping[str, str]) -> int:
    """How many questions, from the first, are already answered: the onboarding starts after
    them (it moves one question at a time, so only leading answers can be skipped)."""
    count = 0
    for step in steps:
        if not answers.get(step.key):
            break
        count += 1
    return count


def clean_answer(text: str) -> str:
    return " ".join(text.split())[:MAX_ANSWER_CHARS]


def advance_for(
    settings: Settings, user_id: uuid.UUID, answered_step: int, answer_text: str
) -> OnboardingAdvance:
    """The write that records the answer to `answered_step` (applied once, by the final save)."""
    steps = settings.onboarding_steps
    step = min(answered_step, len(steps) - 1)
    return OnboardingAdvance(
        user_id=user_id,
        from_step=step,
        step_key=steps[step].key,
        answer=clean_answer(answer_text),
        total_steps=len(steps),
    )


def open_onboarding_conversation(
    session: Session, settings: Settings, user: User, first_step: int
) -> None:
    """The onboarding conversation starts with the assistant asking question `first_step`."""
    conversation_id = conversation_crud.start_conversation(
        session, user.id, ConversationKind.ONBOARDING, "Getting to know you"
    )
    now = utcnow()
    message_crud.add_complete_answer(
        session,
        conversation_id=conversation_id,
        user_id=user.id,
        content=greeting(settings.onboarding_steps, user.display_name, first_step),
        model=GREETING_MODEL,
        now=now,
    )


def start_onboarding(session: Session, settings: Settings, user: User) -> OnboardingState:
    """A new user's onboarding: what registration told is recorded, and the conversation opens
    on the first question still to ask."""
    steps = settings.onboarding_steps
    answers = known_answers(steps, user.display_name)
    first_step = answered_in_a_row(steps, answers)
    now = utcnow()
    state = onboarding_crud.add_state(
        session,
        user.id,
        now,
        answers=answers,
        current_step=first_step,
        completed_at=now if first_step >= len(steps) else None,
    )
    open_onboarding_conversation(session, settings, user, first_step)
    return state


def ensure_state(session: Session, settings: Settings, user_id: uuid.UUID) -> OnboardingState:
    """The user's onboarding state, created with its conversation for accounts that predate it."""
    state = onboarding_crud.get_state(session, user_id)
    conversation = conversation_crud.get_onboarding_conversation(session, user_id)
    if state is not None and conversation is not None:
        return state
    user = user_crud.get_user(session, user_id)
    assert user is not None
    if state is None and conversation is None:
        return start_onboarding(session, settings, user)
    if state is None:
        state = onboarding_crud.add_state(session, user_id, utcnow())
    else:
        open_onboarding_conversation(session, settings, user, state.current_step)
    return state


def _skip(session: Session, settings: Settings, user_id: uuid.UUID) -> OnboardingRead:
    state = ensure_state(session, settings, user_id)
    onboarding_crud.close(session, user_id, utcnow())
    session.refresh(state)
    return _read(session, settings, user_id)


async def skip_onboarding(db: Database, settings: Settings, user_id: uuid.UUID) -> OnboardingRead:
    """Marks the onboarding done now, keeping the answers so far (the rest stay empty).

    Idempotent: an onboarding already done, skipped or finished, is left as it is. An answer
    still being written keeps its place: its save records the answer and leaves it done.
    """
    return await db.run(lambda session: _skip(session, settings, user_id))


def _read(session: Session, settings: Settings, user_id: uuid.UUID) -> OnboardingRead:
    state = ensure_state(session, settings, user_id)
    conversation = conversation_crud.get_onboarding_conversation(session, user_id)
    where = position(state, len(settings.onboarding_steps))
    return OnboardingRead(
        steps=[
            OnboardingStepRead(key=s.key, question=s.question) for s in settings.onboarding_steps
        ],
        current_step=min(state.current_step, where.total_steps),
        progress=where.progress,
        completed=where.completed,
        conversation_id=conversation.id if conversation else None,
    )


async def read_onboarding(db: Database, settings: Settings, user_id: uuid.UUID) -> OnboardingRead:
    return await db.run(lambda session: _read(session, settings, user_id))


async def is_onboarded(db: Database, settings: Settings, user_id: uuid.UUID) -> bool:
    state = await db.run(lambda session: onboarding_crud.get_state(session, user_id))
    return position(state, len(settings.onboarding_steps)).completed
