"""Accounts: registration (with the onboarding conversation it opens), login, who a token is."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import EmailTaken, InvalidCredentials
from app.core.security import hash_password, verify_password
from app.core.text import is_storable
from app.db.crud import users as user_crud
from app.db.models import User
from app.db.session import Database
from app.schemas.auth import AuthUser, UserCreate
from app.services.onboarding import start_onboarding


def _create_account(
    session: Session, settings: Settings, data: UserCreate, hashed_password: str
) -> User:
    if user_crud.get_user_by_email(session, data.email) is not None:
        raise EmailTaken()
    user = user_crud.add_user(
        session, email=data.email, hashed_password=hashed_password, display_name=data.display_name
    )
    start_onboarding(session, settings, user)
    return user


async def register(db: Database, settings: Settings, data: UserCreate) -> User:
    # Hashing (tens of milliseconds) first, while holding no database connection.
    hashed = await hash_password(data.password)
    try:
        return await db.run(lambda session: _create_account(session, settings, data, hashed))
    except IntegrityError as exc:  # a concurrent registration of the same email won the race
        raise EmailTaken() from exc


def _credentials(session: Session, email: str) -> tuple[uuid.UUID | None, str | None]:
    user = user_crud.get_user_by_email(session, email)
    return (user.id, user.hashed_password) if user else (None, None)


async def authenticate(db: Database, email: str, password: str) -> uuid.UUID:
    """The id of the account these credentials open, or InvalidCredentials."""
    # Read-only, and over before the slow hash check starts. An address no database can hold
    # (a NUL in the login form) is no account's: asking would only fail in the driver.
    user_id, hashed = (
        await db.run(lambda session: _credentials(session, email))
        if is_storable(email)
        else (None, None)
    )
    # Same work and same answer whether the email is unknown or the password wrong.
    if not await verify_password(password, hashed) or user_id is None:
        raise InvalidCredentials()
    return user_id


async def authenticated_user(db: Database, user_id: uuid.UUID) -> AuthUser | None:
    """The account a valid token names, read now; None if its row is gone.

    Read on every request, never remembered: an account removed from the database is refused
    at once by every endpoint and every process (a cached copy would keep answering for it,
    and writes for it would fail on their foreign keys). One primary-key read in its own short
    transaction: a stream must not hold a database connection while it runs.
    """
    return await db.run(lambda session: user_crud.get_auth_user(session, user_id))
