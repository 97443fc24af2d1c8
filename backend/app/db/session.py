"""The database: `run()` for units of work, on SQLite or PostgreSQL.

A unit of work is a sync function over a Session, run in one transaction: committed when it
returns, rolled back when it raises. On PostgreSQL it runs through the async engine
(`AsyncSession.run_sync`, each statement awaited on asyncpg); on a SQLite file it runs whole in
SQLite's own thread, which holds the only engine (app/db/sqlite_thread.py).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from app.db.sqlite_thread import SQLiteWorkThread

T = TypeVar("T")
UnitOfWork = Callable[[Session], T]

DEFAULT_POOL_TIMEOUT_S = 10.0


def _set_sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and the writer proceed together; busy_timeout queues writers instead of
    # failing them at once; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _make_sqlite_directory(url: str) -> None:
    """A SQLite file's directory, so a first run (or `migrate`) in a new DATA_DIR can create it."""
    database = make_url(url).database
    if database and database != ":memory:":
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # e.g. a file in the way: connecting fails, and /readyz reports it


def create_engine(url: str, **overrides: Any) -> AsyncEngine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        _make_sqlite_directory(url)
        # One connection: SQLite has one writer at a time anyway, and queueing for the connection
        # in the event loop is fair and cheap, where several connections would fight over the
        # file lock (SQLITE_BUSY, "database is locked") under load.
        # No pre-ping: a local file does not drop connections, and each ping would be one more
        # round trip through the driver's thread on every checkout.
        kwargs.update(pool_size=1, max_overflow=0, pool_timeout=DEFAULT_POOL_TIMEOUT_S)
    else:
        kwargs.update(
            pool_size=10, max_overflow=20, pool_timeout=DEFAULT_POOL_TIMEOUT_S, pool_pre_ping=True
        )
        kwargs["connect_args"] = {"timeout": 5, "command_timeout": 30}
    kwargs.update(overrides)
    if "poolclass" in overrides:  # e.g. NullPool for a short-lived worker task
        for key in ("pool_size", "max_overflow", "pool_timeout"):
            kwargs.pop(key, None)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def _sqlite_file_url(url: str) -> URL | None:
    """The sync-driver URL of a SQLite file database, or None (another database, or memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.set(drivername="sqlite+pysqlite")


def _run_in_transaction(session: Session, work: UnitOfWork[T]) -> T:
    with session.begin():
        return work(session)


def _is_migrated(session: Session) -> bool:
    session.execute(text("SELECT 1"))
    if not inspect(session.connection()).has_table("alembic_version"):
        return False
    return bool(session.scalar(text("SELECT count(*) FROM alembic_version")))


class Database(ABC):
    """Runs units of work; `Database.from_url` picks the kind the URL needs."""

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> Database:
        sync_url = _sqlite_file_url(url)
        if sync_url is not None:
            return SQLiteFileDatabase(sync_url.render_as_string(hide_password=False))
        return EngineDatabase(create_engine(url, **overrides))

    @abstractmethod
    async def run(self, work: UnitOfWork[T]) -> T:
        """`work` in one transaction: committed if it returns, rolled back if it raises."""

    @property
    def is_sqlite(self) -> bool:
        """Whether it is SQLite (whose search index is written in batches, in the background)."""
        return False

    async def is_migrated(self) -> bool:
        """Whether the database answers and holds the migrated schema (raises if unreachable)."""
        return await self.run(_is_migrated)

    @abstractmethod
    async def dispose(self) -> None: ...


class EngineDatabase(Database):
    """PostgreSQL (or SQLite in memory): each unit through the async engine, statements awaited."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def run(self, work: UnitOfWork[T]) -> T:
        async with self._sessions() as session:
            return await session.run_sync(_run_in_transaction, work)

    async def dispose(self) -> None:
        await self.engine.dispose()


class SQLiteFileDatabase(Database):
    """A SQLite file: each unit whole in SQLite's own thread, on its one connection."""

    def __init__(self, sync_url: str) -> None:
        _make_sqlite_directory(sync_url)
        self.thread = SQLiteWorkThread(
            sync_url, pragmas=_set_sqlite_pragmas, queue_timeout_s=DEFAULT_POOL_TIMEOUT_S
        )

    @property
    def is_sqlite(self) -> bool:
        return True

    async def run(self, work: UnitOfWork[T]) -> T:
        return await self.thread.run(work)

    async def dispose(self) -> None:
        await asyncio.to_thread(self.thread.dispose)
