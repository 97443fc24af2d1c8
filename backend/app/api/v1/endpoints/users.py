"""The signed-in user's profile."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentUser, DatabaseDep, SettingsDep
from app.schemas.auth import UserRead
from app.services.onboarding import is_onboarded

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me")
async def read_me(user: CurrentUser, db: DatabaseDep, settings: SettingsDep) -> UserRead:
    return UserRead(
        **user.model_dump(), onboarding_completed=await is_onboarded(db, settings, user.id)
    )
