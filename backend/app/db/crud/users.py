"""Queries on users."""

from __future__ import annotations

import unicodedata
import uuid

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from app.db.core_execute import execute_core
from app.db.models import User
from app.schemas.auth import AuthUser

# The users.email column's length: no longer text is anyone's address (nor worth parsing: the
# validator's cost grows with the length, and a login form's username has no limit of its own).
MAX_EMAIL_CHARS = 320


def normalise_email(email: str) -> str:
    """The one form an address is stored and looked up in, whatever form it was typed in.

    Registration and login both come through here, so `René@Example.com` typed with a
    combining accent (NFD) finds the account registered with a precomposed é (NFC): the
    address is normalised as registration's validator does it (NFC, the domain's Unicode
    form), then lower-cased: the form stored since the first release.
    """
    email = unicodedata.normalize("NFC", email.strip())
    if len(email) <= MAX_EMAIL_CHARS:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            pass  # not an address: no account has it (registration refuses it before this)
    return email.lower()


def get_user(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


# Read on every request: columns, not an ORM object, in a statement built once. The table's
# columns, not the mapped class's: a select of ORM attributes, run on the connection, cost
# about 14 µs more per execution.
USERS: Table = User.__table__  # type: ignore[assignment]
_AUTH_USER = select(USERS.c.id, USERS.c.email, USERS.c.display_name, USERS.c.created_at).where(
    USERS.c.id == bindparam("user_id")
)


def get_auth_user(session: Session, user_id: uuid.UUID) -> AuthUser | None:
    """The snapshot a request authenticates as."""
    row = execute_core(session, _AUTH_USER, {"user_id": user_id}).one_or_none()
    return AuthUser.model_validate(row) if row is not None else None


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
