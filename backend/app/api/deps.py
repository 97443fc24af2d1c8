"""Dependencies as Annotated aliases: a route just says `db: DatabaseDep, user: CurrentUser`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer

from app.core.config import Settings
from app.core.errors import AccountGone, TokenExpired, Unauthorized
from app.core.security import (
    ExpiredToken,
    InvalidToken,
    TokenClaims,
    TokenScope,
    decode_token,
)
from app.db.session import Database
from app.orchestration.orchestrator import Orchestrator
from app.schemas.auth import AuthUser, TokenUser
from app.services import accounts
from app.services.rate_limits import RateLimiter

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

ACCESS_ONLY: frozenset[TokenScope] = frozenset({"access"})
ACCESS_OR_STREAM: frozenset[TokenScope] = frozenset({"access", "stream"})


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def`
# dependency in its thread pool, a thread hop per dependency per request.


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


async def get_settings_dep(request: Request) -> Settings:
    return _settings(request)


async def get_database(request: Request) -> Database:
    """Routes hand it to the services, which run their units of work on it."""
    return _database(request)


def orchestrator_of(request: Request) -> Orchestrator:
    """The app's orchestrator, read directly: the stream routes, every stream's open, skip the
    dependency machinery for what one attribute read gives (see `StreamSender`)."""
    orchestrator: Orchestrator = request.app.state.orchestrator
    return orchestrator


def settings_of(request: Request) -> Settings:
    return _settings(request)


async def get_orchestrator(request: Request) -> Orchestrator:
    return orchestrator_of(request)


async def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_database)]
OrchestratorDep = Annotated[Orchestrator, Depends(get_orchestrator)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


def _claims(request: Request, token: str | None, accepted: frozenset[TokenScope]) -> TokenClaims:
    if not token:
        raise Unauthorized("Not authenticated: a token is required.")
    try:
        return decode_token(_settings(request), token, accepted)
    except ExpiredToken as exc:
        # Its own code: the one 401 a client answers by refreshing, not by signing out.
        raise TokenExpired() from exc
    except InvalidToken as exc:
        raise Unauthorized() from exc


async def _user_for_token(
    request: Request, token: str | None, accepted: frozenset[TokenScope]
) -> AuthUser:
    claims = _claims(request, token, accepted)
    user = await accounts.authenticated_user(_database(request), claims.user_id)
    if user is None:
        raise AccountGone()
    return user


async def get_current_user(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> AuthUser:
    """The user of an `Authorization: Bearer` access token (stream tokens are refused here)."""
    return await _user_for_token(request, token, ACCESS_ONLY)


# EventSource cannot send headers: the stream routes take their token in the URL.
TokenQuery = Annotated[
    str | None,
    Query(description="An access token or a stream token (POST /chat/stream-token)."),
]


async def get_current_user_from_token(
    request: Request,
    token: TokenQuery = None,
) -> AuthUser:
    """The user of a `token` query parameter, for EventSource, which cannot send headers."""
    return await _user_for_token(request, token, ACCESS_OR_STREAM)


def stream_sender(request: Request, token: str | None) -> TokenUser:
    """The user a stream token names (`get_stream_sender`'s check, for the routes' plain path,
    app/api/stream_route.py)."""
    return TokenUser(_claims(request, token, ACCESS_OR_STREAM).user_id)


async def get_stream_sender(
    request: Request,
    token: TokenQuery = None,
) -> TokenUser:
    """The user a `token` query parameter names, its signature, scope and expiry checked.

    For the two send routes only: whether the account still exists is read by the send's first
    unit of work (its look-up of the client_message_id), one database hop fewer per stream.
    Their one dependency: it runs before their parameters are validated, so a request without
    a valid token is a 401 whatever else it carries; the orchestrator and the settings they
    read from the request (`orchestrator_of`, `settings_of`), since each dependency FastAPI
    solves costs a stream's open more than the route's own work on it.
    """
    return stream_sender(request, token)


CurrentUser = Annotated[AuthUser, Depends(get_current_user)]
StreamUser = Annotated[AuthUser, Depends(get_current_user_from_token)]
StreamSender = Annotated[TokenUser, Depends(get_stream_sender)]
