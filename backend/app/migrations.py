"""Running Alembic from code: `chatstream migrate`, start-up checks and tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.pool import NullPool

from alembic import command
from app.db.session import create_engine

BACKEND_DIR = Path(__file__).resolve().parents[1]


def alembic_config(database_url: str) -> Config:
    config = Config(str(BACKEND_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(BACKEND_DIR / "alembic"))
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a database's schema stands against the migrations this version ships."""

    current: frozenset[str]  # the database's revisions: none if it was never migrated
    heads: frozenset[str]  # what this version's migrations end at
    known: frozenset[str]  # every revision this version knows

    @property
    def empty(self) -> bool:
        return not self.current

    @property
    def up_to_date(self) -> bool:
        return self.current == self.heads

    @property
    def behind(self) -> bool:
        """Migrated by an earlier version: `chatstream migrate` brings it up to date."""
        return not self.empty and not self.up_to_date and self.current <= self.known

    @property
    def ahead(self) -> bool:
        """Migrated by a later version (a revision this one does not know)."""
        return not self.current <= self.known


def _current_revisions(connection: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(connection).get_current_heads())


async def _read_current(database_url: str) -> frozenset[str]:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_revisions)
    finally:
        await engine.dispose()


def schema_state(database_url: str) -> SchemaState:
    """Read the database's revision (raises if it cannot be reached); changes nothing."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    return SchemaState(
        current=asyncio.run(_read_current(database_url)),
        heads=frozenset(script.get_heads()),
        known=frozenset(revision.revision for revision in script.walk_revisions()),
    )
