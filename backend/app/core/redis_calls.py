"""Lua scripts and commands called over Redis connections kept apart from redis-py's client.

Through redis-py's client a call cost about 150 µs of this process's CPU: the command is packed
argument by argument into an ever longer buffer, and goes through the client's command machinery
and its connection pool (whose checkout and return alone cost about 40 µs). Here a command is
packed in C (hiredis) and sent on a connection that is already in hand: about 60-80 µs for the same
call. The stream log's writer makes a call every few milliseconds; each answer makes a few of
its own (its send lock, its rate limits, its lease); together they are most of what the scaled
mode costs beyond the embedded one.

The connections are taken from the client's pool, so their address, password, database, TLS
and socket timeouts are the client's.
"""

from __future__ import annotations

import hashlib
from typing import Any

from hiredis import pack_command as _pack
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError, NoScriptError

Arg = bytes | str | int | float

# Connections kept idle by a `RawCommands`; more at once go back to the client's pool. As many
# as calls overlap at the busiest: a checkout from the pool (its lock, its health check) costs
# as much as the call itself, and a burst of answers starting makes dozens of calls at once.
MAX_IDLE = 128


def pack_command(*args: Arg) -> bytes:
    """The RESP encoding of a command: an array of bulk strings (str as UTF-8, numbers as
    their decimal text). Packed in C by hiredis: a stream log write of 40 answers' frames took
    77 µs packed by a loop in Python, 35 µs here."""
    # hiredis's stub types the argument as a tuple of one, and leaves the result untyped.
    packed: bytes = _pack(args)  # type: ignore[arg-type]
    return packed


async def _send(connection: AbstractConnection, command: bytes) -> Any:
    await connection.send_packed_command(command, check_health=False)
    return await connection.read_response()


class Script:
    """A Lua script, run by EVALSHA, or by EVAL when Redis has not cached it (a restart, or
    SCRIPT FLUSH; EVAL caches it again)."""

    def __init__(self, source: str) -> None:
        self.source = source.encode()
        self.sha = hashlib.sha1(self.source, usedforsecurity=False).hexdigest().encode()

    async def run(self, connection: AbstractConnection, keys: list[str], args: list[Arg]) -> Any:
        try:
            return await _send(
                connection, pack_command(b"EVALSHA", self.sha, len(keys), *keys, *args)
            )
        except NoScriptError:
            return await _send(
                connection, pack_command(b"EVAL", self.source, len(keys), *keys, *args)
            )


class RawCommands:
    """Commands and scripts from many tasks at once, each call on an idle connection of its
    own. A connection found closed (Redis restarted, or an idle connection dropped) is replaced
    and the call made once more, as redis-py's client retries; a call on a new connection that
    fails raises: Redis is away."""

    def __init__(self, redis: Redis, max_idle: int = MAX_IDLE) -> None:
        self._pool = redis.connection_pool
        self._idle: list[AbstractConnection] = []
        self._max_idle = max_idle

    def script(self, source: str) -> BoundScript:
        return BoundScript(self, Script(source))

    async def command(self, *args: Arg) -> Any:
        return await self._call(lambda connection: _send(connection, pack_command(*args)))

    async def _call(self, run: Any) -> Any:
        reused = bool(self._idle)
        try:
            return await self._call_once(run)
        except ConnectionError:
            if not reused:
                raise
            return await self._call_once(run)

    async def _call_once(self, run: Any) -> Any:
        if self._idle:
            connection = self._idle.pop()
        else:
            # redis-py leaves this method unannotated; it returns a connected Connection.
            connection = await self._pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            result = await run(connection)
        except BaseException:
            await connection.disconnect()
            await self._pool.release(connection)
            raise
        if len(self._idle) < self._max_idle:
            self._idle.append(connection)
        else:
            await self._pool.release(connection)
        return result

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await self._pool.release(connection)


class BoundScript:
    """A script called through a `RawCommands`: `await script(keys, args)`."""

    def __init__(self, commands: RawCommands, script: Script) -> None:
        self._commands = commands
        self._script = script

    async def __call__(self, keys: list[str], args: list[Arg]) -> Any:
        script = self._script
        return await self._commands._call(  # noqa: SLF001 - the script's own caller
            lambda connection: script.run(connection, keys, args)
        )


class ScriptConnection:
    """One script over one connection kept for a single caller whose calls never overlap (the
    stream log's writer): not even an idle list to go through."""

    def __init__(self, redis: Redis, script: str) -> None:
        self._pool = redis.connection_pool
        self._script = Script(script)
        self._connection: AbstractConnection | None = None

    async def call(self, keys: list[str], args: list[Arg]) -> Any:
        """Run the script. A connection found closed is replaced and the call made once more:
        the script must be safe to run twice (the stream log's is: its entries have fixed ids).
        Any other failure is raised."""
        reused = self._connection is not None
        try:
            return await self._call_once(keys, args)
        except ConnectionError:
            if not reused:  # a new connection failed: Redis is away
                raise
            return await self._call_once(keys, args)

    async def _call_once(self, keys: list[str], args: list[Arg]) -> Any:
        if self._connection is None:
            self._connection = await self._pool.get_connection()  # type: ignore[no-untyped-call]
        connection = self._connection
        try:
            return await self._script.run(connection, keys, args)
        except BaseException:
            self._connection = None
            await connection.disconnect()
            await self._pool.release(connection)
            raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._pool.release(connection)
