"""Queries on onboarding state: read it, create it, advance it exactly once per step."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from app.db.core_execute import execute_core
from app.db.models import OnboardingState


def get_state(session: Session, user_id: uuid.UUID) -> OnboardingState | None:
    return session.get(OnboardingState, user_id)


# Read on every chat turn: a column, not an ORM object, in a statement built once, on the
# table's column rather than the mapped class's (see users._AUTH_USER).
ONBOARDING_STATES: Table = OnboardingState.__table__  # type: ignore[assignment]
_ANSWERS = select(ONBOARDING_STATES.c.answers).where(
    ONBOARDING_STATES.c.user_id == bindparam("user_id")
)


def get_answers(session: Session, user_id: uuid.UUID) -> dict[str, Any]:
    """The onboarding answers alone."""
    answers = execute_core(session, _ANSWERS, {"user_id": user_id}).scalar_one_or_none()
    return dict(answers or {})


def add_state(
    session: Session,
    user_id: uuid.UUID,
    now: datetime,
    *,
    answers: dict[str, str] | None = None,
    current_step: int = 0,
    completed_at: datetime | None = None,
) -> OnboardingState:
    state = OnboardingState(
        user_id=user_id,
        current_step=current_step,
        answers=dict(answers or {}),
        completed_at=completed_at,
        updated_at=now,
    )
    session.add(state)
    session.flush()
    return state


def close(session: Session, user_id: uuid.UUID, now: datetime) -> bool:
    """Mark the onboarding done (a Skip); one already done keeps its time. True if it changed."""
    result = session.execute(
        update(OnboardingState)
        .where(OnboardingState.user_id == user_id, OnboardingState.completed_at.is_(None))
        .values(completed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def replace_answers(
    session: Session, user_id: uuid.UUID, answers: dict[str, str], now: datetime
) -> None:
    """The answers as the user edited them (the step pointer is left where it is)."""
    session.execute(
        update(OnboardingState)
        .where(OnboardingState.user_id == user_id)
        .values(answers=dict(answers), updated_at=now)
        .execution_options(synchronize_session=False)
    )


def advance(
    session: Session,
    *,
    user_id: uuid.UUID,
    from_step: int,
    step_key: str,
    answer: str,
    total_steps: int,
    now: datetime,
) -> bool:
    """Record the answer to step `from_step` and move on; a repeat of the same advance is a no-op.

    The `current_step == from_step` condition makes a retried save (a Celery retry, a replay)
    idempotent and lets two racing turns advance the step only once.
    """
    state = session.get(OnboardingState, user_id, populate_existing=True)
    if state is None or state.current_step != from_step:
        return False
    answers = dict(state.answers or {})
    answers[step_key] = answer
    next_step = from_step + 1
    result = session.execute(
        update(OnboardingState)
        .where(OnboardingState.user_id == user_id, OnboardingState.current_step == from_step)
        .values(
            current_step=next_step,
            answers=answers,
            # A Skip while this answer was written has already closed the onboarding: it stays
            # closed (coalesce in the statement itself, so no read can race the write).
            completed_at=func.coalesce(
                OnboardingState.completed_at, now if next_step >= total_steps else None
            ),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
