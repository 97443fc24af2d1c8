"""Queries on users."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import User
from app.schemas.auth import AuthUser


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_user(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def get_auth_user(session: Session, user_id: uuid.UUID) -> AuthUser | None:
    """The snapshot a request authenticates as (columns only: this runs on every request)."""
    row = session.execute(
        select(User.id, User.email, User.display_name, User.created_at).where(User.id == user_id)
    ).one_or_none()
    return AuthUser.model_validate(row._asdict()) if row is not None else None


def get_user_by_email(session: Session, email: str) -> User | None:
    result = session.execute(select(User).where(User.email == normalise_email(email)))
    return result.scalar_one_or_none()


def add_user(
    session: Session, *, email: str, hashed_password: str, display_name: str | None
) -> User:
    user = User(
        email=normalise_email(email), hashed_password=hashed_password, display_name=display_name
    )
    session.add(user)
    session.flush()
    return user
