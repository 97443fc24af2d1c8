"""Statements built once, run on a unit of work's connection rather than through the ORM.

`Session.execute` takes every statement through the ORM's execution path (compile state,
events, result wrapping), which for a prebuilt primary-key read or a one-row insert costs more
than SQLite's own work. The statements of a stream's hot path (who a token is, a send's look-up,
the turn's inserts, the answer's save and checkpoints) go through here instead.

On a SQLite file even `Connection.execute` costs far more than SQLite does: 130-220 µs of
Python for a statement SQLite runs in 2-20 µs, measured in the server on each of the seven
statements of a new stream. There a statement is compiled once per set of parameter names
(`_Prepared`), with the same type processors SQLAlchemy would apply, and each execution is the
driver's own call: the stored values are the ones the full path stores, byte for byte.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import Compiled

Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class CoreResult:
    """What a hot-path statement returns: its rows (types processed) or its row count."""

    rowcount: int
    rows: list[tuple[Any, ...]]
    keys: tuple[str, ...]

    def scalar_one_or_none(self) -> Any:
        row = self._one_or_none()
        return None if row is None else row[0]

    def one_or_none(self) -> dict[str, Any] | None:
        row = self._one_or_none()
        return None if row is None else dict(zip(self.keys, row, strict=True))

    def _one_or_none(self) -> tuple[Any, ...] | None:
        if len(self.rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.rows[0] if self.rows else None


def execute_core(
    session: Session, statement: Executable, parameters: Parameters = None
) -> CoreResult:
    """`statement` in the session's transaction, seeing (and seen by) its ORM work."""
    # What the ORM path's autoflush would do: objects added to the session and not yet
    # written reach the database first, so the statement sees them. A no-op when none are.
    session.flush()
    connection = _in_transaction(session) or session.connection()
    prepared = _prepared(connection, statement, _names(parameters))
    if prepared is not None:
        return prepared.execute(connection, parameters)
    result = connection.execute(statement, parameters)
    if result.returns_rows:
        return CoreResult(-1, [tuple(row) for row in result], tuple(result.keys()))
    return CoreResult(result.rowcount, [], ())


def _in_transaction(session: Session) -> Connection | None:
    """The connection a session is bound to when its driver is in a transaction already (a
    unit of SQLite's thread, which begins it): the statement joins it without the session's
    own transaction, which costs more than a statement (app/db/sqlite_thread.py)."""
    bind = session.bind
    if type(bind) is not Connection or bind.closed or bind.invalidated:
        return None
    driver = bind.connection.dbapi_connection
    return bind if isinstance(driver, sqlite3.Connection) and driver.in_transaction else None


def _names(parameters: Parameters) -> tuple[str, ...]:
    """The parameters' names (an executemany's rows share theirs)."""
    if isinstance(parameters, Sequence):
        return tuple(parameters[0]) if parameters else ()
    return tuple(parameters or ())


# (statement id, parameter names) -> its prepared form, or None where the full path is needed.
# The statements are module constants, so this stays small; it is bounded all the same.
_PREPARED: dict[tuple[int, tuple[str, ...]], tuple[Executable, _Prepared | None]] = {}
_MAX_PREPARED = 256


def _prepared(
    connection: Connection, statement: Executable, names: tuple[str, ...]
) -> _Prepared | None:
    dialect = connection.dialect
    if dialect.driver != "pysqlite" or _is_watched(connection):
        return None
    key = (id(statement), names)
    cached = _PREPARED.get(key)
    if cached is not None and cached[0] is statement:
        return cached[1]
    prepared = _Prepared.compile(statement, names, dialect)
    if len(_PREPARED) < _MAX_PREPARED:
        _PREPARED[key] = (statement, prepared)  # the statement kept: its id is not reused
    return prepared


def _is_watched(connection: Connection) -> bool:
    """Listeners on statements (tests that fail or count them) see every statement: those
    connections take the full path."""
    dispatch = connection.dispatch
    return bool(
        dispatch.before_execute
        or dispatch.after_execute
        or dispatch.before_cursor_execute
        or dispatch.after_cursor_execute
    )


@dataclass(frozen=True, slots=True)
class _Prepared:
    sql: str
    binds: tuple[tuple[str, Processor, Any], ...]  # name, bind processor, value if not given
    results: tuple[Processor, ...] | None  # a SELECT's column processors
    keys: tuple[str, ...]

    @classmethod
    def compile(
        cls, statement: Executable, names: tuple[str, ...], dialect: Dialect
    ) -> _Prepared | None:
        compiled: Compiled = statement.compile(dialect=dialect, column_keys=list(names))  # type: ignore[attr-defined]
        positions = getattr(compiled, "positiontup", None)
        if (
            positions is None
            or getattr(compiled, "insert_prefetch", None)
            or getattr(compiled, "update_prefetch", None)
        ):
            return None  # Python-side column defaults: the full path computes them
        processors = compiled._bind_processors  # type: ignore[attr-defined]
        binds: list[tuple[str, Processor, Any]] = []
        for name in positions:
            bind = compiled.binds[name]  # type: ignore[attr-defined]
            if bind.callable is not None:
                return None
            binds.append((name, processors.get(name), bind.value))
        results: tuple[Processor, ...] | None = None
        keys: tuple[str, ...] = ()
        columns = getattr(compiled, "_result_columns", None)
        if columns:
            results = tuple(c.type._cached_result_processor(dialect, None) for c in columns)
            keys = tuple(c.keyname for c in columns)
        return cls(compiled.string, tuple(binds), results, keys)

    def execute(self, connection: Connection, parameters: Parameters) -> CoreResult:
        driver = connection.connection.dbapi_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            if isinstance(parameters, Sequence):
                cursor.executemany(self.sql, [self._row(p) for p in parameters])
            else:
                cursor.execute(self.sql, self._row(parameters or {}))
            if self.results is None:
                return CoreResult(cursor.rowcount, [], ())
            return CoreResult(-1, [self._processed(row) for row in cursor.fetchall()], self.keys)
        except sqlite3.Error as exc:
            # As the full path raises it: IntegrityError for a duplicate, and so on.
            raise DBAPIError.instance(self.sql, parameters, exc, sqlite3.Error) from exc
        finally:
            cursor.close()

    def _row(self, parameters: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, process, default in self.binds:
            value = parameters.get(name, default)
            # None too, as the full path does (a JSON column stores None as JSON's null).
            values.append(value if process is None else process(value))
        return tuple(values)

    def _processed(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        assert self.results is not None
        return tuple(
            value if process is None else process(value)
            for process, value in zip(self.results, row, strict=True)
        )
