"""What the user can edit about themselves: the display name and the onboarding answers.

Both shape the chat assistant's system prompt, which reads them afresh on every turn
(app/services/turns.py), so an edit is used by the very next answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import UnknownOnboardingQuestion
from app.db.base import utcnow
from app.db.crud import onboarding as onboarding_crud
from app.db.crud import users as user_crud
from app.db.session import Database
from app.schemas.profile import OnboardingAnswerRead, OnboardingAnswers
from app.services.onboarding import ensure_state


def _rename(session: Session, user_id: uuid.UUID, display_name: str) -> None:
    user = user_crud.get_user(session, user_id)
    assert user is not None  # the request's token named it a moment ago
    user.display_name = display_name
    session.flush()


async def update_display_name(db: Database, user_id: uuid.UUID, display_name: str) -> None:
    await db.run(lambda session: _rename(session, user_id, display_name))


def _answers(session: Session, settings: Settings, user_id: uuid.UUID) -> OnboardingAnswers:
    ensure_state(session, settings, user_id)
    stored = onboarding_crud.get_answers(session, user_id)
    return OnboardingAnswers(
        items=[
            OnboardingAnswerRead(
                key=step.key, question=step.question, answer=str(stored.get(step.key) or "") or None
            )
            for step in settings.onboarding_steps
        ]
    )


async def read_answers(db: Database, settings: Settings, user_id: uuid.UUID) -> OnboardingAnswers:
    """Every onboarding question with the user's answer, or null where there is none."""
    return await db.run(lambda session: _answers(session, settings, user_id))


def _replace(
    session: Session, settings: Settings, user_id: uuid.UUID, answers: Mapping[str, str]
) -> OnboardingAnswers:
    keys = [step.key for step in settings.onboarding_steps]
    unknown = sorted(set(answers) - set(keys))
    if unknown:
        raise UnknownOnboardingQuestion(
            f"answers.{unknown[0]}: no onboarding question has this key; the keys are "
            f"{', '.join(keys)}."
        )
    ensure_state(session, settings, user_id)
    onboarding_crud.replace_answers(session, user_id, dict(answers), utcnow())
    return _answers(session, settings, user_id)


async def replace_answers(
    db: Database, settings: Settings, user_id: uuid.UUID, answers: Mapping[str, str]
) -> OnboardingAnswers:
    """The answers become exactly `answers` (already validated one by one by the schema)."""
    return await db.run(lambda session: _replace(session, settings, user_id, answers))
