"""Dependencies as Annotated aliases: a route just says `session: SessionDep, user: CurrentUser`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.agents.orchestrator import AgentOrchestrator
from app.core.config import Settings
from app.core.errors import Unauthorized
from app.core.security import InvalidToken, TokenScope, decode_token
from app.db.crud.users import get_user
from app.ratelimit import RateLimiter
from app.schemas.auth import AuthUser

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

ACCESS_ONLY: frozenset[TokenScope] = frozenset({"access"})
ACCESS_OR_STREAM: frozenset[TokenScope] = frozenset({"access", "stream"})


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.db.sessionmaker
    return maker


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """A session whose transaction commits when the handler succeeds and rolls back otherwise."""
    async with get_sessionmaker(request)() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def get_orchestrator(request: Request) -> AgentOrchestrator:
    orchestrator: AgentOrchestrator = request.app.state.orchestrator
    return orchestrator


def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": commit before the response is sent (FastAPI's default, "request", commits
# after it), so a client that got 201 can read what it created in its very next request.
SessionDep = Annotated[AsyncSession, Depends(get_db, scope="function")]
OrchestratorDep = Annotated[AgentOrchestrator, Depends(get_orchestrator)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


async def _user_for_token(
    request: Request, token: str | None, accepted: frozenset[TokenScope]
) -> AuthUser:
    if not token:
        raise Unauthorized("Not authenticated: a token is required.")
    settings = get_settings_dep(request)
    try:
        claims = decode_token(settings, token, accepted)
    except InvalidToken as exc:
        raise Unauthorized() from exc
    # Its own short session: a stream must not hold a database connection while it runs.
    async with get_sessionmaker(request)() as session:
        user = await get_user(session, claims.user_id)
        if user is None:
            raise Unauthorized("The account of this token no longer exists.")
        return AuthUser.model_validate(user)


async def get_current_user(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> AuthUser:
    """The user of an `Authorization: Bearer` access token (stream tokens are refused here)."""
    return await _user_for_token(request, token, ACCESS_ONLY)


async def get_current_user_from_token(
    request: Request,
    token: Annotated[
        str | None,
        Query(description="An access token or a stream token (POST /chat/stream-token)."),
    ] = None,
) -> AuthUser:
    """The user of a `token` query parameter, for EventSource, which cannot send headers."""
    return await _user_for_token(request, token, ACCESS_OR_STREAM)


CurrentUser = Annotated[AuthUser, Depends(get_current_user)]
StreamUser = Annotated[AuthUser, Depends(get_current_user_from_token)]
