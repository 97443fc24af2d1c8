"""Migration 0005 (refresh tokens) on SQLite and PostgreSQL: the table holds hashes, one row per
hash, and goes with its user; going back to 0004 drops it and keeps the accounts."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alembic import command
from app.db.base import UTCDateTime, utcnow
from app.migrations import alembic_config
from tests.fixtures.database import inspect_schema
from tests.fixtures.migrations import run_on

# The tables as revision 0005 has them (the models may since have grown).
USERS = sa.table(
    "users",
    sa.column("id", sa.Uuid),
    sa.column("email", sa.String),
    sa.column("hashed_password", sa.String),
    sa.column("created_at", UTCDateTime),
)
REFRESH_TOKENS = sa.table(
    "refresh_tokens",
    sa.column("id", sa.Uuid),
    sa.column("family_id", sa.Uuid),
    sa.column("user_id", sa.Uuid),
    sa.column("token_hash", sa.String),
    sa.column("created_at", UTCDateTime),
    sa.column("expires_at", UTCDateTime),
)


def _add_user(session: Session) -> uuid.UUID:
    user_id = uuid.uuid4()
    session.execute(
        sa.insert(USERS).values(
            id=user_id, email=f"{user_id}@example.com", hashed_password="x", created_at=utcnow()
        )
    )
    return user_id


def _add_token(session: Session, user_id: uuid.UUID, token_hash: str) -> None:
    now = utcnow()
    session.execute(
        sa.insert(REFRESH_TOKENS).values(
            id=uuid.uuid4(),
            family_id=uuid.uuid4(),
            user_id=user_id,
            token_hash=token_hash,
            created_at=now,
            expires_at=now + timedelta(days=1),
        )
    )


def _count(session: Session) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(REFRESH_TOKENS)) or 0)


def test_refresh_tokens_hold_one_row_per_hash_and_go_with_their_user(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0005")
    user_id = run_on(empty_database, _add_user)
    run_on(empty_database, lambda s: _add_token(s, user_id, "a" * 64))
    run_on(empty_database, lambda s: _add_token(s, user_id, "b" * 64))
    with pytest.raises(IntegrityError):
        run_on(empty_database, lambda s: _add_token(s, user_id, "a" * 64))
    assert run_on(empty_database, _count) == 2

    run_on(empty_database, lambda s: s.execute(sa.delete(USERS).where(USERS.c.id == user_id)))
    assert run_on(empty_database, _count) == 0


def test_downgrading_0005_drops_the_table_and_keeps_the_accounts(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0005")
    user_id = run_on(empty_database, _add_user)
    run_on(empty_database, lambda s: _add_token(s, user_id, "c" * 64))

    command.downgrade(config, "0004")
    tables, _ = inspect_schema(empty_database)
    assert "refresh_tokens" not in tables
    users = run_on(
        empty_database, lambda s: s.scalar(sa.select(sa.func.count()).select_from(USERS))
    )
    assert users == 1

    command.upgrade(config, "0005")
    assert run_on(empty_database, _count) == 0
