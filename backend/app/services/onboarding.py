"""Reading a user's onboarding state, creating it for accounts that predate it."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from app.agents.onboarding import progress
from app.core.config import Settings
from app.db.base import utcnow
from app.db.crud import conversations as conversation_crud
from app.db.crud import onboarding as onboarding_crud
from app.db.crud import users as user_crud
from app.db.models import OnboardingState
from app.schemas.onboarding import OnboardingRead, OnboardingStepRead
from app.services.accounts import open_onboarding_conversation


def ensure_state(session: Session, settings: Settings, user_id: uuid.UUID) -> OnboardingState:
    state = onboarding_crud.get_state(session, user_id)
    if state is None:
        state = onboarding_crud.add_state(session, user_id, utcnow())
    if conversation_crud.get_onboarding_conversation(session, user_id) is None:
        user = user_crud.get_user(session, user_id)
        assert user is not None
        open_onboarding_conversation(session, settings, user)
    return state


def is_completed(state: OnboardingState | None, total_steps: int) -> bool:
    return state is not None and (
        state.completed_at is not None or state.current_step >= total_steps
    )


def read_onboarding(session: Session, settings: Settings, user_id: uuid.UUID) -> OnboardingRead:
    state = ensure_state(session, settings, user_id)
    conversation = conversation_crud.get_onboarding_conversation(session, user_id)
    total = len(settings.onboarding_steps)
    return OnboardingRead(
        steps=[
            OnboardingStepRead(key=s.key, question=s.question) for s in settings.onboarding_steps
        ],
        current_step=min(state.current_step, total),
        progress=progress(state.current_step, total),
        completed=is_completed(state, total),
        conversation_id=conversation.id if conversation else None,
    )
