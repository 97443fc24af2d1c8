"""One Lua script called over a Redis connection of its own, for the stream log's writer.

The writer makes one call every few milliseconds with a few dozen arguments (a frame each), and
through redis-py's client each call cost about 150 µs of this process's CPU: the command is
packed argument by argument into an ever longer buffer, and goes through the client's command
machinery and the pool. Here the command is packed in one join and sent on a connection the
writer keeps, taken from the client's pool (so its address, password, database, TLS and socket
timeouts are the client's): about 60 µs for the same call, and the stream log's writes are most
of what the scaled mode costs per chunk.

The calls must not overlap: the writer makes one at a time.
"""

from __future__ import annotations

import hashlib
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError, NoScriptError

Arg = bytes | str | int


def pack_command(*args: Arg) -> bytes:
    """The RESP encoding of a command: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = b"%d" % arg
        parts.append(b"$%d\r\n%b\r\n" % (len(arg), arg))
    return b"".join(parts)


class ScriptConnection:
    def __init__(self, redis: Redis, script: str) -> None:
        self._pool = redis.connection_pool
        self._script = script.encode()
        self._sha = hashlib.sha1(self._script, usedforsecurity=False).hexdigest().encode()
        self._connection: AbstractConnection | None = None

    async def call(self, keys: list[str], args: list[Arg]) -> Any:
        """Run the script (EVALSHA, or EVAL when Redis has not cached it). A connection found
        closed is replaced and the call made once more: the script must be safe to run twice
        (the stream log's is: its entries have fixed ids). Any other failure is raised."""
        reused = self._connection is not None
        try:
            return await self._call_once(keys, args)
        except ConnectionError:
            if not reused:  # a new connection failed: Redis is away
                raise
            return await self._call_once(keys, args)

    async def _call_once(self, keys: list[str], args: list[Arg]) -> Any:
        if self._connection is None:
            # redis-py leaves this method unannotated; it returns a connected Connection.
            self._connection = await self._pool.get_connection()  # type: ignore[no-untyped-call]
        connection = self._connection
        try:
            try:
                return await self._run(connection, b"EVALSHA", self._sha, keys, args)
            except NoScriptError:  # Redis restarted, or SCRIPT FLUSH: EVAL caches it again
                return await self._run(connection, b"EVAL", self._script, keys, args)
        except BaseException:
            self._connection = None
            await connection.disconnect()
            await self._pool.release(connection)
            raise

    @staticmethod
    async def _run(
        connection: AbstractConnection, verb: bytes, script: bytes, keys: list[str], args: list[Arg]
    ) -> Any:
        command = pack_command(verb, script, len(keys), *keys, *args)
        await connection.send_packed_command(command, check_health=False)
        return await connection.read_response()

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._pool.release(connection)
