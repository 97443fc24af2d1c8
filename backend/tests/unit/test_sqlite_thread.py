"""app/db/sqlite_thread: units of work run whole in one thread, on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import column, insert, table, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as DatabaseBusyError
from sqlalchemy.orm import Session

from app.db.core_execute import execute_core
from app.db.session import Database, SQLiteFileDatabase


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'units.db'}")
    assert isinstance(db, SQLiteFileDatabase)
    await db.run(lambda s: s.execute(text("CREATE TABLE notes (body TEXT)")))
    yield db
    await db.dispose()


def _notes(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT body FROM notes ORDER BY rowid")]


async def test_a_unit_commits_when_it_returns_and_rolls_back_when_it_raises(
    database: Database, tmp_path: Path
) -> None:
    await database.run(lambda s: s.execute(text("INSERT INTO notes VALUES ('kept')")))

    def fails(session: Session) -> None:
        session.execute(text("INSERT INTO notes VALUES ('dropped')"))
        raise ValueError("no")

    with pytest.raises(ValueError):
        await database.run(fails)
    assert _notes(tmp_path / "units.db") == ["kept"]


async def test_units_run_in_one_thread_other_than_the_loop(database: Database) -> None:
    threads = await asyncio.gather(
        *(database.run(lambda _: threading.get_ident()) for _ in range(20))
    )
    assert len(set(threads)) == 1
    assert threads[0] != threading.get_ident()


async def test_a_unit_queued_too_long_is_refused_as_busy(database: Database) -> None:
    assert isinstance(database, SQLiteFileDatabase)
    database.thread._queue_timeout_s = 0.2  # noqa: SLF001 - a short bound for the test
    slow = asyncio.ensure_future(database.run(lambda _: time.sleep(0.5)))
    await asyncio.sleep(0.05)  # the slow unit is running; the next one waits behind it
    with pytest.raises(DatabaseBusyError):
        await database.run(lambda _: None)
    await slow


async def test_a_cancelled_caller_skips_its_unit_if_it_has_not_started(
    database: Database, tmp_path: Path
) -> None:
    blocker = asyncio.ensure_future(database.run(lambda _: time.sleep(0.3)))
    await asyncio.sleep(0.05)
    queued = asyncio.ensure_future(
        database.run(lambda s: s.execute(text("INSERT INTO notes VALUES ('never')")))
    )
    await asyncio.sleep(0.05)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    await blocker
    await database.run(lambda _: None)  # the thread is free again
    assert _notes(tmp_path / "units.db") == []


async def test_units_take_the_write_lock_at_begin_and_wait_for_another_writer(
    database: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "units.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO notes VALUES ('first')")
    started = time.monotonic()
    waiting = asyncio.ensure_future(
        database.run(lambda s: s.execute(text("INSERT INTO notes VALUES ('second')")))
    )
    await asyncio.sleep(0.3)
    assert not waiting.done()  # queued on SQLite's busy timeout, not failed
    other.execute("COMMIT")
    other.close()
    await waiting
    assert time.monotonic() - started >= 0.3
    assert _notes(tmp_path / "units.db") == ["first", "second"]


async def test_a_lock_held_past_the_busy_timeout_fails_the_unit_with_a_database_error(
    database: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "units.db", isolation_level=None, timeout=10)
    other.execute("PRAGMA busy_timeout=10000")
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OperationalError):
            # busy_timeout is 5 s: hold the lock past it
            await database.run(lambda s: s.execute(text("INSERT INTO notes VALUES ('x')")))
    finally:
        other.execute("ROLLBACK")
        other.close()
    # The thread keeps its connection between units: the failure left it ready for the next.
    await database.run(lambda s: s.execute(text("INSERT INTO notes VALUES ('after')")))
    assert _notes(tmp_path / "units.db") == ["after"]


class _NotAnException(BaseException):
    """Raised by a unit: not an Exception, so only a catch of BaseException sees it."""


async def test_a_unit_that_raises_anything_hands_it_to_its_caller_and_the_next_unit_runs(
    database: Database, tmp_path: Path
) -> None:
    def escapes(_: Session) -> None:
        raise _NotAnException()

    with pytest.raises(_NotAnException):
        await database.run(escapes)
    await database.run(lambda s: s.execute(text("INSERT INTO notes VALUES ('next')")))
    assert _notes(tmp_path / "units.db") == ["next"]


async def test_dispose_runs_what_was_queued_then_refuses_new_units(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'closing.db'}")
    await db.run(lambda s: s.execute(text("CREATE TABLE notes (body TEXT)")))
    queued = [
        asyncio.ensure_future(
            db.run(lambda s, i=i: s.execute(text(f"INSERT INTO notes VALUES ('{i}')")))
        )
        for i in range(3)
    ]
    await asyncio.sleep(0)  # each has put its unit in the queue
    await db.dispose()
    await asyncio.gather(*queued)
    assert _notes(tmp_path / "closing.db") == ["0", "1", "2"]
    with pytest.raises(RuntimeError, match="closed"):
        await db.run(lambda _: None)


NOTES = table("notes", column("body"))


@pytest.mark.parametrize("core_first", [True, False], ids=["core-then-orm", "orm-then-core"])
async def test_core_and_orm_statements_of_a_unit_commit_or_roll_back_as_one(
    database: Database, tmp_path: Path, core_first: bool
) -> None:
    """A unit's Core statements run on the driver in the transaction the thread began; the
    ORM's, begun on first use, joins it: both are kept, or neither."""

    def both(session: Session, tag: str) -> None:
        core = lambda: execute_core(session, insert(NOTES), {"body": f"core {tag}"})  # noqa: E731
        orm = lambda: session.execute(text(f"INSERT INTO notes VALUES ('orm {tag}')"))  # noqa: E731
        for step in (core, orm) if core_first else (orm, core):
            step()
        if tag == "dropped":
            raise ValueError("no")

    await database.run(lambda s: both(s, "kept"))
    with pytest.raises(ValueError):
        await database.run(lambda s: both(s, "dropped"))
    expected = ["core kept", "orm kept"] if core_first else ["orm kept", "core kept"]
    assert _notes(tmp_path / "units.db") == expected


async def test_a_unit_of_core_statements_alone_rolls_back_when_it_raises(
    database: Database, tmp_path: Path
) -> None:
    def fails(session: Session) -> None:
        execute_core(session, insert(NOTES), {"body": "dropped"})
        raise ValueError("no")

    with pytest.raises(ValueError):
        await database.run(fails)
    await database.run(lambda s: execute_core(s, insert(NOTES), {"body": "kept"}))
    assert _notes(tmp_path / "units.db") == ["kept"]
