"""SQLite's units of work, each run whole in one thread of its own: one hop per transaction.

Through an async driver every statement, fetch, cursor and commit is a round trip to the
driver's thread that resumes only when the event loop comes round again; with thousands of
streams on the loop a turn's dozen round trips made opening a stream slow. Here a unit of work
(a sync function over a Session) runs start to finish in this thread and the loop is woken once,
with the result.

Transactions begin IMMEDIATE: they take SQLite's write lock at the start instead of upgrading a
read lock later, which another connection (the Celery worker, a second API process) could
refuse at once with "database is locked"; competing writers wait under busy_timeout instead.
The thread begins and ends each unit's transaction on the driver: a unit of Core statements
alone (a stream's look-up, turn and save) never pays for the ORM Session's transaction, which
cost several times its BEGIN and COMMIT; a unit that uses the ORM joins the same transaction.

The thread keeps its one connection open between units: checking it out of a pool and back in
(events, a reset on return) cost as much as a unit's statements.

The hop itself is a queue the thread takes units from and one `call_soon_threadsafe` back: about
40 µs of CPU here, against 75 µs through `run_in_executor` (a concurrent.futures Future, its
condition variable, and a second future chained to it on the loop). A new stream makes three:
the look-up of its send, its turn, its save.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as DatabaseBusyError
from sqlalchemy.orm import Session

T = TypeVar("T")


class _Abandoned(Exception):
    """A unit of work whose caller stopped waiting before it started."""


def _autocommit_driver(dbapi_connection: Any, _: Any) -> None:
    # The driver must not open transactions itself: we begin them, IMMEDIATE.
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Any) -> None:
    # Where the ORM begins a transaction: the unit's, begun already by the thread (below).
    _begin_unit(connection.connection.dbapi_connection)


def _begin_unit(driver: sqlite3.Connection) -> None:
    # On the driver's connection: SQLAlchemy's statement machinery costs more than the BEGIN.
    # Its errors are wrapped as SQLAlchemy's own (OperationalError for a lock held too long).
    if driver.in_transaction:
        return
    try:
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise DBAPIError.instance("BEGIN IMMEDIATE", None, exc, sqlite3.Error) from exc


def _end_unit(driver: sqlite3.Connection, *, commit: bool) -> None:
    if not driver.in_transaction:  # the ORM's commit or rollback ended it
        return
    try:
        driver.commit() if commit else driver.rollback()
    except sqlite3.Error as exc:
        statement = "COMMIT" if commit else "ROLLBACK"
        raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


@dataclass(slots=True)
class _Unit(Generic[T]):
    work: Callable[[Session], T]
    loop: asyncio.AbstractEventLoop
    result: asyncio.Future[T]
    queued_at: float
    abandoned: bool = False  # its caller was cancelled while it waited its turn


def _settle(result: asyncio.Future[T], value: T | None, error: BaseException | None) -> None:
    if result.done():
        return
    if error is not None:
        result.set_exception(error)
    else:
        result.set_result(value)  # type: ignore[arg-type]  # T when there was no error


class SQLiteWorkThread:
    def __init__(
        self,
        sync_url: str,
        *,
        pragmas: Callable[[Any, Any], None],
        queue_timeout_s: float,
    ) -> None:
        self.engine: Engine = create_sync_engine(sync_url, pool_size=1, max_overflow=0)
        event.listen(self.engine, "connect", pragmas)
        event.listen(self.engine, "connect", _autocommit_driver)
        event.listen(self.engine, "begin", _begin_immediate)
        self._connection: Connection | None = None  # used in the thread only
        self._session: Session | None = None  # the same
        self._queue_timeout_s = queue_timeout_s
        self._units: queue.SimpleQueue[_Unit[Any] | None] = queue.SimpleQueue()
        self._closed = False
        # A daemon: a process that exits without disposing of its database is not held up by
        # it; SQLite rolls back whatever transaction the exit cut short.
        self._thread = threading.Thread(target=self._serve, name="sqlite-work", daemon=True)
        self._thread.start()

    async def run(self, work: Callable[[Session], T]) -> T:
        if self._closed:
            raise RuntimeError("the database is closed")
        loop = asyncio.get_running_loop()
        unit = _Unit(work, loop, loop.create_future(), time.monotonic())
        self._units.put(unit)
        # A cancelled caller skips its unit if it has not started; one already running cannot
        # be stopped midway, and the caller waits for its end before it sees the cancellation.
        try:
            return await asyncio.shield(unit.result)
        except asyncio.CancelledError:
            unit.abandoned = True
            await asyncio.wait({unit.result})
            if not unit.result.cancelled():
                unit.result.exception()  # retrieved: an abandoned unit's failure is its caller's
            raise

    def _serve(self) -> None:
        while (unit := self._units.get()) is not None:
            value: Any = None
            error: BaseException | None = None
            try:
                value = self._run_unit(unit)
            except BaseException as exc:  # the caller's, as if raised in its own task; the
                error = exc  # thread goes on serving the next unit whatever this one raised
            try:
                unit.loop.call_soon_threadsafe(_settle, unit.result, value, error)
            except RuntimeError:  # its loop has closed: nobody waits for the result
                pass
        self._close()

    def _run_unit(self, unit: _Unit[T]) -> T:
        if unit.abandoned:
            raise _Abandoned()
        # Like a pool timeout: a unit queued this long meets an overloaded server, and the
        # client is better told so (503, Retry-After) than kept waiting.
        if time.monotonic() - unit.queued_at > self._queue_timeout_s:
            raise DatabaseBusyError(f"queued for over {self._queue_timeout_s} s")
        connection = self._open_connection()
        driver = connection.connection.dbapi_connection
        assert isinstance(driver, sqlite3.Connection)
        # The thread begins and ends the unit's transaction on the driver itself: the ORM's
        # transaction, begun only if the unit uses the ORM, joins it (`_begin_immediate`).
        # For a unit of Core statements alone (app/db/core_execute.py runs them on the driver),
        # the ORM's begin and commit cost several times its statements.
        _begin_unit(driver)
        session = self._session_on(connection)
        try:
            value = unit.work(session)
            if session.in_transaction():  # the ORM was used (an object added begins it too)
                session.commit()
            _end_unit(driver, commit=True)
            return value
        except BaseException:
            try:
                if session.in_transaction():
                    session.rollback()
            finally:
                _end_unit(driver, commit=False)
            raise
        finally:
            if session.in_transaction() or session.identity_map:  # else it holds nothing
                session.close()

    def _session_on(self, connection: Connection) -> Session:
        """The thread's session on its connection: closed after each unit, so it starts the next
        one empty, and kept, since making one costs as much as a unit's transaction."""
        session = self._session
        if session is None or session.bind is not connection:
            session = self._session = Session(bind=connection, expire_on_commit=False)
        return session

    def _open_connection(self) -> Connection:
        """The thread's connection, opened again if a failure invalidated or closed it."""
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            if connection is not None:
                connection.close()
            connection = self._connection = self.engine.connect()
        return connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.engine.dispose()

    def dispose(self) -> None:
        """Run what is queued, then close: in the thread, since a sqlite3 connection may be
        closed only by the thread that opened it."""
        self._closed = True
        self._units.put(None)
        self._thread.join()
