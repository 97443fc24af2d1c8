"""Sign-ins that last: a refresh token issued at sign-in, exchanged for a new one (and an access
token) at each refresh, and its whole family revoked at sign-out or when a spent one comes back.

Rotation makes a stolen refresh token short-lived: whoever uses it second, the thief or the
user, presents a token already spent, and that ends the sign-in for both. A spent token is
still accepted for `REFRESH_TOKEN_REUSE_GRACE_S` after it was spent, issuing a sibling: two tabs
that refresh at once with the same cookie, or an answer lost on the way back, must not sign the
user out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import RefreshTokenInvalid, RefreshTokenReused
from app.core.security import hash_refresh_token, new_refresh_token
from app.db.base import utcnow
from app.db.crud import refresh_tokens as refresh_crud
from app.db.session import Database


@dataclass(frozen=True, slots=True)
class IssuedRefreshToken:
    """A refresh token for the cookie: shown to the client once, never stored as it is."""

    token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class Rotation:
    user_id: uuid.UUID
    refresh: IssuedRefreshToken


class _Refusal(Enum):
    INVALID = "invalid"
    REUSED = "reused"


def _issue(
    session: Session, settings: Settings, user_id: uuid.UUID, family_id: uuid.UUID, now: datetime
) -> IssuedRefreshToken:
    token = new_refresh_token()
    refresh_crud.add_refresh_token(
        session,
        family_id=family_id,
        user_id=user_id,
        token_hash=hash_refresh_token(token),
        now=now,
        expires_at=now + timedelta(seconds=settings.refresh_token_ttl_s),
    )
    return IssuedRefreshToken(token, settings.refresh_token_ttl_s)


async def start(db: Database, settings: Settings, user_id: uuid.UUID) -> IssuedRefreshToken:
    """The first refresh token of a new sign-in (a family of its own)."""

    def work(session: Session) -> IssuedRefreshToken:
        now = utcnow()
        # Each sign-in adds rows; the ones no one can use any more go here, a user at a time.
        refresh_crud.delete_expired_refresh_tokens(session, user_id, now)
        return _issue(session, settings, user_id, uuid.uuid4(), now)

    return await db.run(work)


def _rotate(session: Session, settings: Settings, token_hash: str) -> Rotation | _Refusal:
    now = utcnow()
    row = refresh_crud.get_refresh_token_for_update(session, token_hash)
    # An account removed from the database took its tokens with it (ON DELETE CASCADE).
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return _Refusal.INVALID
    if row.spent_at is None:
        row.spent_at = now
    elif now - row.spent_at > timedelta(seconds=settings.refresh_token_reuse_grace_s):
        refresh_crud.revoke_family(session, row.family_id, now)
        return _Refusal.REUSED
    # Unspent, or spent within the grace: a successor in the same family. `spent_at` stays the
    # first spending's time, so the grace never stretches.
    return Rotation(row.user_id, _issue(session, settings, row.user_id, row.family_id, now))


async def rotate(db: Database, settings: Settings, token: str | None) -> Rotation:
    """Spends `token` and issues its successor; RefreshTokenInvalid or RefreshTokenReused."""
    if not token:
        raise RefreshTokenInvalid()
    token_hash = hash_refresh_token(token)
    # The refusal is raised after the unit of work: a reuse's revocation must be committed.
    outcome = await db.run(lambda session: _rotate(session, settings, token_hash))
    if outcome is _Refusal.REUSED:
        raise RefreshTokenReused()
    if outcome is _Refusal.INVALID:
        raise RefreshTokenInvalid()
    return outcome


def _end(session: Session, token_hash: str) -> None:
    row = refresh_crud.get_refresh_token_for_update(session, token_hash)
    if row is not None:
        refresh_crud.revoke_family(session, row.family_id, utcnow())


async def end(db: Database, token: str | None) -> None:
    """Sign-out: the family of `token` is revoked (every token of that sign-in, in any tab)."""
    if token:
        token_hash = hash_refresh_token(token)
        await db.run(lambda session: _end(session, token_hash))
