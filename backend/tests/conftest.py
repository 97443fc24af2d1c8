"""The shared pytest fixtures (databases, the app, a live server), built from tests/fixtures/."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.migrations import upgrade_to_head
from tests.fixtures.database import (
    POSTGRES_ADMIN_URL,
    postgres_admin,
    postgres_reachable,
    postgres_url,
    scratch_postgres_database,
    sqlite_copy,
    sqlite_file_url,
    truncate_app_tables,
)
from tests.fixtures.environment import require
from tests.fixtures.server import AppFactory, factory_of, live_server, running_app

# Databases -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade_to_head(sqlite_file_url(path))
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own for this test run, migrated once, dropped at the end."""
    where = POSTGRES_ADMIN_URL.split("@")[-1]
    require(asyncio.run(postgres_reachable()), f"PostgreSQL is not reachable at {where}")
    name = f"chatstream_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"'))
    url = postgres_url(name)
    upgrade_to_head(url)
    yield url
    asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """Each DB-backed test runs twice: on a fresh SQLite file, and on a clean PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_copy(sqlite_template, tmp_path)
        return
    url = request.getfixturevalue("postgres_database")
    asyncio.run(truncate_app_tables(url))
    yield url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with no tables yet, for tests of one migration."""
    if request.param == "sqlite":
        yield sqlite_file_url(tmp_path / "migrated.db")
        return
    with scratch_postgres_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only, for tests about the embedded mode itself (or that do not depend on it)."""
    return sqlite_copy(sqlite_template, tmp_path)


# The app, in process and on a real port -------------------------------------------------------


@pytest.fixture
def app_factory(tmp_path: Path, database_url: str) -> AppFactory:
    """`async with app_factory(model=scripted_model(...), **settings) as harness:`"""
    return factory_of(running_app, tmp_path, database_url)


@pytest.fixture
def live_server_factory(tmp_path: Path, database_url: str) -> AppFactory:
    """`async with live_server_factory(model=..., **settings) as server:` uvicorn on loopback."""
    return factory_of(live_server, tmp_path, database_url)


@pytest.fixture
def sqlite_app_factory(tmp_path: Path, sqlite_url: str) -> AppFactory:
    """`app_factory` on SQLite only, for features that do not depend on the database."""
    return factory_of(running_app, tmp_path, sqlite_url)


@pytest.fixture
def sqlite_server_factory(tmp_path: Path, sqlite_url: str) -> AppFactory:
    """`live_server_factory` on SQLite only, for features that do not depend on the database."""
    return factory_of(live_server, tmp_path, sqlite_url)
