"""Queries on refresh tokens: add one, find one by its hash (locked), spend, revoke a family."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.db.models import RefreshToken


def add_refresh_token(
    session: Session,
    *,
    family_id: uuid.UUID,
    user_id: uuid.UUID,
    token_hash: str,
    now: datetime,
    expires_at: datetime,
) -> RefreshToken:
    row = RefreshToken(
        family_id=family_id,
        user_id=user_id,
        token_hash=token_hash,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


def get_refresh_token_for_update(session: Session, token_hash: str) -> RefreshToken | None:
    """The row of this hash, locked on PostgreSQL until the transaction ends: two refreshes with
    one token take turns, so the second sees the first's `spent_at` (SQLite has one writer)."""
    statement = select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
    return session.execute(statement).scalar_one_or_none()


def revoke_family(session: Session, family_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def delete_expired_refresh_tokens(session: Session, user_id: uuid.UUID, now: datetime) -> None:
    """A user's tokens past their expiry: nothing can use them any more, not even a thief."""
    session.execute(
        delete(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.expires_at < now)
    )
