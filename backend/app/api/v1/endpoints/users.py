"""The signed-in user's profile."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentUser, DatabaseDep, SettingsDep
from app.schemas.auth import UserRead
from app.schemas.errors import error_responses
from app.schemas.profile import UserUpdate
from app.services.onboarding import is_onboarded
from app.services.profile import update_display_name

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me")
async def read_me(user: CurrentUser, db: DatabaseDep, settings: SettingsDep) -> UserRead:
    return UserRead(
        **user.model_dump(), onboarding_completed=await is_onboarded(db, settings, user.id)
    )


@router.patch("/me", responses=error_responses(422))
async def update_me(
    body: UserUpdate, user: CurrentUser, db: DatabaseDep, settings: SettingsDep
) -> UserRead:
    """Changes the display name; the next chat answer's prompt uses it."""
    await update_display_name(db, user.id, body.display_name)
    return UserRead(
        **user.model_dump(exclude={"display_name"}),
        display_name=body.display_name,
        onboarding_completed=await is_onboarded(db, settings, user.id),
    )
