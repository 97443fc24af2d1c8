"""The onboarding state: steps, the current one, progress."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentUser, DatabaseDep, SettingsDep
from app.schemas.onboarding import OnboardingRead
from app.services.onboarding import read_onboarding

router = APIRouter(prefix="/onboarding", tags=["onboarding"])


@router.get("")
async def read_onboarding_state(
    user: CurrentUser, db: DatabaseDep, settings: SettingsDep
) -> OnboardingRead:
    return await read_onboarding(db, settings, user.id)
