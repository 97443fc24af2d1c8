"""Registration, OAuth2 password login, and the refresh token's rotation and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import DatabaseDep, SettingsDep
from app.api.refresh_cookie import (
    CsrfChecked,
    RefreshCookie,
    clear_refresh_cookie,
    cleared_refresh_cookie_header,
    set_refresh_cookie,
)
from app.core.errors import Unauthorized
from app.core.security import create_access_token
from app.schemas.auth import AccessToken, UserCreate, UserRead
from app.schemas.errors import error_responses
from app.services import accounts, sign_ins

router = APIRouter(prefix="/auth", tags=["auth"])

_SETS_COOKIE = "Sets the refresh token cookie (`chatstream_refresh`, HttpOnly, SameSite=Strict)."


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    description=f"Creates the account and signs in: {_SETS_COOKIE} Trade it for an access "
    "token with POST /auth/refresh.",
    responses=error_responses(409, descriptions={409: "The email is taken (`email_taken`)."}),
)
async def register(
    data: UserCreate, db: DatabaseDep, settings: SettingsDep, response: Response
) -> UserRead:
    user = await accounts.register(db, settings, data)
    set_refresh_cookie(response, settings, await sign_ins.start(db, settings, user.id))
    return UserRead.model_validate(user)


@router.post(
    "/token",
    description=_SETS_COOKIE,
    responses=error_responses(
        401, descriptions={401: "Incorrect email or password (`invalid_credentials`)."}
    ),
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: DatabaseDep,
    settings: SettingsDep,
    response: Response,
) -> AccessToken:
    user_id = await accounts.authenticate(db, form.username, form.password)
    set_refresh_cookie(response, settings, await sign_ins.start(db, settings, user_id))
    issued = create_access_token(settings, user_id)
    return AccessToken(access_token=issued.token, expires_in=issued.expires_in)


@router.post(
    "/refresh",
    dependencies=[CsrfChecked],
    description="Trades the refresh token cookie for a new access token and a new cookie (the "
    "old token is spent). Needs the `X-Requested-With` header.",
    responses=error_responses(
        401,
        403,
        descriptions={
            401: "No valid refresh token (`refresh_token_invalid`), or a spent one presented "
            "again (`refresh_token_reused`): that sign-in is ended everywhere. The cookie is "
            "cleared.",
            403: "The `X-Requested-With` header is missing (`csrf_header_missing`).",
        },
    ),
)
async def refresh(
    refresh_token: RefreshCookie, db: DatabaseDep, settings: SettingsDep, response: Response
) -> AccessToken:
    try:
        rotation = await sign_ins.rotate(db, settings, refresh_token)
    except Unauthorized as refused:
        # A refused cookie is of no further use: the browser stops sending it.
        refused.headers["set-cookie"] = cleared_refresh_cookie_header(settings)
        raise
    set_refresh_cookie(response, settings, rotation.refresh)
    issued = create_access_token(settings, rotation.user_id)
    return AccessToken(access_token=issued.token, expires_in=issued.expires_in)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[CsrfChecked],
    description="Ends the sign-in of the refresh token cookie (every token of its family) and "
    "clears the cookie; 204 with or without a cookie. Access tokens already issued stay valid "
    "until they expire. Needs the `X-Requested-With` header.",
    responses=error_responses(
        403, descriptions={403: "The `X-Requested-With` header is missing (`csrf_header_missing`)."}
    ),
)
async def logout(
    refresh_token: RefreshCookie, db: DatabaseDep, settings: SettingsDep, response: Response
) -> None:
    await sign_ins.end(db, refresh_token)
    clear_refresh_cookie(response, settings)
