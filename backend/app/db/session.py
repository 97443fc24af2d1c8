"""The async engine and session factory for the configured database (SQLite or PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def _set_sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and the writer proceed together; busy_timeout queues writers instead of
    # failing them at once; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str, **overrides: Any) -> AsyncEngine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass  # e.g. a file in the way: connecting fails, and /readyz reports it
        # One connection: SQLite has one writer at a time anyway, and queueing for the connection
        # in the event loop is fair and cheap, where several connections would fight over the
        # file lock (SQLITE_BUSY, "database is locked") under load.
        kwargs.update(pool_size=1, max_overflow=0, pool_timeout=10)
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_timeout=10)
        kwargs["connect_args"] = {"timeout": 5, "command_timeout": 30}
    kwargs.update(overrides)
    if "poolclass" in overrides:  # e.g. NullPool for a short-lived worker task
        for key in ("pool_size", "max_overflow", "pool_timeout"):
            kwargs.pop(key, None)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


@dataclass
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> Database:
        engine = create_engine(url, **overrides)
        return cls(engine, async_sessionmaker(engine, expire_on_commit=False))

    async def dispose(self) -> None:
        await self.engine.dispose()
