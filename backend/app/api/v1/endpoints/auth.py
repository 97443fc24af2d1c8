"""Registration and OAuth2 password login."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import DatabaseDep, SettingsDep
from app.core.security import create_access_token
from app.schemas.auth import AccessToken, UserCreate, UserRead
from app.schemas.errors import error_responses
from app.services import accounts

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, descriptions={409: "The email is taken (`email_taken`)."}),
)
async def register(data: UserCreate, db: DatabaseDep, settings: SettingsDep) -> UserRead:
    user = await accounts.register(db, settings, data)
    return UserRead.model_validate(user)


@router.post(
    "/token",
    responses=error_responses(
        401, descriptions={401: "Incorrect email or password (`invalid_credentials`)."}
    ),
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: DatabaseDep,
    settings: SettingsDep,
) -> AccessToken:
    user_id = await accounts.authenticate(db, form.username, form.password)
    issued = create_access_token(settings, user_id)
    return AccessToken(access_token=issued.token, expires_in=issued.expires_in)
