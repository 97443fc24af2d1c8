"""Queries on users."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import User


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == normalise_email(email)))
    return result.scalar_one_or_none()


async def add_user(
    session: AsyncSession, *, email: str, hashed_password: str, display_name: str | None
) -> User:
    user = User(
        email=normalise_email(email), hashed_password=hashed_password, display_name=display_name
    )
    session.add(user)
    await session.flush()
    return user
