"""Alembic: up, down and up again on SQLite and PostgreSQL; the result matches the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alembic import command
from app.migrations import alembic_config, upgrade_to_head
from tests.fixtures.database import (
    APP_TABLES,
    inspect_schema,
    scratch_postgres_database,
    sqlite_file_url,
)


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it yet (sync fixture: Alembic runs its own event loop)."""
    if request.param == "sqlite":
        yield sqlite_file_url(tmp_path / "migrations.db")
        return
    with scratch_postgres_database() as url:
        yield url


def test_upgrade_downgrade_upgrade_round_trip(empty_database: str) -> None:
    config = alembic_config(empty_database)
    upgrade_to_head(empty_database)
    tables, _ = inspect_schema(empty_database)
    assert APP_TABLES <= tables

    command.downgrade(config, "base")
    tables, _ = inspect_schema(empty_database)
    assert tables <= {"alembic_version"}

    upgrade_to_head(empty_database)
    tables, differences = inspect_schema(empty_database)
    assert APP_TABLES <= tables
    assert differences == []


def test_migrated_schema_matches_the_models(empty_database: str) -> None:
    upgrade_to_head(empty_database)
    tables, differences = inspect_schema(empty_database)
    assert tables == APP_TABLES | {"alembic_version"}
    assert differences == [], "run `alembic revision --autogenerate`: the models changed"


def test_migrations_have_a_single_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    assert len(script.get_heads()) == 1
