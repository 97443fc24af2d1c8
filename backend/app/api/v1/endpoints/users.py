"""The signed-in user's profile."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentUser, DatabaseDep, SettingsDep
from app.db.crud.onboarding import get_state
from app.schemas.auth import UserRead
from app.services.onboarding import is_completed

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me")
async def read_me(user: CurrentUser, db: DatabaseDep, settings: SettingsDep) -> UserRead:
    state = await db.run(lambda session: get_state(session, user.id))
    return UserRead(
        **user.model_dump(),
        onboarding_completed=is_completed(state, len(settings.onboarding_steps)),
    )
