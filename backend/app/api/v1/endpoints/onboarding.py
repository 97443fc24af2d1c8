"""The onboarding: its state, Skip, and the answers the user can read and edit afterwards."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentUser, DatabaseDep, SettingsDep
from app.schemas.errors import error_responses
from app.schemas.onboarding import OnboardingRead
from app.schemas.profile import OnboardingAnswers, OnboardingAnswersUpdate
from app.services.onboarding import read_onboarding, skip_onboarding
from app.services.profile import read_answers, replace_answers

router = APIRouter(prefix="/onboarding", tags=["onboarding"])


@router.get("")
async def read_onboarding_state(
    user: CurrentUser, db: DatabaseDep, settings: SettingsDep
) -> OnboardingRead:
    return await read_onboarding(db, settings, user.id)


@router.post("/skip")
async def skip(user: CurrentUser, db: DatabaseDep, settings: SettingsDep) -> OnboardingRead:
    """Onboarding done now: the answers so far are kept, the rest stay empty. Idempotent."""
    return await skip_onboarding(db, settings, user.id)


@router.get("/answers")
async def read_onboarding_answers(
    user: CurrentUser, db: DatabaseDep, settings: SettingsDep
) -> OnboardingAnswers:
    return await read_answers(db, settings, user.id)


@router.put("/answers", responses=error_responses(422))
async def replace_onboarding_answers(
    body: OnboardingAnswersUpdate, user: CurrentUser, db: DatabaseDep, settings: SettingsDep
) -> OnboardingAnswers:
    """The answers become exactly those given; the next chat answer's prompt uses them."""
    return await replace_answers(db, settings, user.id, body.answers)
