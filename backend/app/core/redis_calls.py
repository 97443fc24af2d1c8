"""Lua scripts and commands on a pipelined Redis connection of our own, beside redis-py's client.

Through redis-py's client a call cost 74-80 µs of this process's CPU on uvloop: a task for the
write's timeout, the client's command machinery, and a connection checked out of its pool for
every call (a burst of answers starting made dozens of new connections at once, each set up at
the cost of many calls). Here every call of one `RawCommands` goes down one connection, the
commands of calls made together written back to back and their replies handed back in order
(Redis answers the commands of a connection in the order they came): a call costs little more
than one `send` and one read, 32 µs, and no call waits for a connection.

Blocking reads (XREAD BLOCK) and pub/sub stay on redis-py's client: on a shared pipeline they
would hold up every call behind them.

The connection is made from the client's settings (address or socket path, TLS, user,
password, database, client name, timeouts). A call not answered within the socket timeout fails with
redis-py's `TimeoutError`, and the connection is dropped, with every call waiting on it: their
replies could no longer be told apart. A connection found lost is replaced by the next call.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from dataclasses import dataclass
from typing import Any, cast

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import ConnectionPool, SSLConnection
from redis.exceptions import ConnectionError, NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Arg = bytes | str | int | float


def pack_command(*args: Arg) -> bytes:
    """The RESP encoding of a command: an array of bulk strings (str as UTF-8, numbers as
    their decimal text). Packed in C by hiredis, twice as fast as a loop in Python; it copies
    each argument into an allocation of its own, so a call with many pieces of data should
    pass them joined (as the stream log's writes do, app/streaming/redis_log.py)."""
    # hiredis's stub types the argument as a tuple of one, and leaves the result untyped.
    packed: bytes = hiredis.pack_command(args)  # type: ignore[arg-type]
    return packed


def _reply_error(error: hiredis.ReplyError) -> ResponseError:
    message = str(error)
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ResponseError(message)


class _Replies(asyncio.Protocol):
    """One connection's socket: replies parsed by hiredis, handed to the calls in the order
    their commands were written. A call given up (cancelled) keeps its place: its reply is
    read and dropped."""

    def __init__(self, timeout_s: float | None) -> None:
        self._parser = hiredis.Reader()
        self._timeout_s = timeout_s
        self._loop = asyncio.get_running_loop()
        # Each call waiting for its reply, with when its command was written.
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._watchdog: asyncio.TimerHandle | None = None
        self._writable: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None

    # The call's side ----------------------------------------------------------------------------

    async def call(self, command: bytes) -> Any:
        if self._writable is not None:  # the socket's buffer is full: Redis reads slowly
            await asyncio.shield(self._writable)
        if self.lost is not None:
            raise self.lost
        assert self.transport is not None
        reply = self._loop.create_future()
        now = self._loop.time()
        self._waiting.append((reply, now))
        self.transport.write(command)
        if self._watchdog is None and self._timeout_s is not None:
            self._watchdog = self._loop.call_at(now + self._timeout_s, self._check_stalled)
        return await reply

    def _check_stalled(self) -> None:
        """One timer for all the calls: the oldest one's reply is late, or it is re-armed for
        it (cheaper than a timer per call, armed and cancelled thousands of times a second)."""
        self._watchdog = None
        if not self._waiting or self._timeout_s is None:
            return
        due = self._waiting[0][1] + self._timeout_s
        if self._loop.time() >= due:
            self.abort(RedisTimeoutError("Timeout reading from Redis"))
        else:
            self._watchdog = self._loop.call_at(due, self._check_stalled)

    def abort(self, error: Exception) -> None:
        """Drop the connection: every call waiting on it fails with `error`."""
        if self.lost is None:
            self.lost = error
        if self.transport is not None:
            self.transport.abort()
        self._fail_waiting(self.lost)

    def _fail_waiting(self, error: Exception) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        waiting, self._waiting = self._waiting, deque()
        for reply, _ in waiting:
            if not reply.done():
                reply.set_exception(error)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)  # the writers find the connection lost
        self._writable = None

    # The socket's side --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        parser.feed(data)
        waiting = self._waiting
        while True:
            try:
                reply = parser.gets()
            except hiredis.ProtocolError as exc:
                self.abort(ConnectionError(f"Redis sent what is not RESP: {exc}"))
                return
            if reply is False:  # the rest of a reply is still to come
                return
            if not waiting:
                self.abort(ConnectionError("Redis sent a reply nothing asked for"))
                return
            future, _ = waiting.popleft()
            if future.done():  # its call was given up
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(_reply_error(reply))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost is None:
            detail = f": {exc}" if exc is not None else ""
            self.lost = ConnectionError(f"Connection to Redis lost{detail}")
        self._fail_waiting(self.lost)

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None


class RedisPipe:
    """A pipelined connection to the Redis server of `pool`'s settings, made on first use and
    made again after it is lost."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        settings = pool.connection_kwargs
        self._connect_timeout_s: float | None = settings.get("socket_connect_timeout")
        self._timeout_s: float | None = settings.get("socket_timeout")
        self._replies: _Replies | None = None
        self._connecting = asyncio.Lock()
        # Closed for good: a call in flight fails rather than making a connection nobody closes.
        self._closed = False

    async def execute(self, command: bytes) -> Any:
        """Send a packed command and return its reply. A connection that was in use before and
        turns out lost is replaced and the command sent once more (so it must be safe to run
        twice, as every script here is); a new connection that fails raises."""
        replies = self._replies
        if replies is None or replies.lost is not None:
            return await (await self._connect()).call(command)
        try:
            return await replies.call(command)
        except ConnectionError:
            return await (await self._connect()).call(command)

    async def _connect(self) -> _Replies:
        async with self._connecting:  # the calls that found it lost share one new connection
            if self._closed:
                raise ConnectionError("Closed")
            replies = self._replies
            if replies is not None and replies.lost is None:
                return replies
            replies = await self._open()
            self._replies = replies
            return replies

    async def _open(self) -> _Replies:
        settings = self._pool.connection_kwargs
        loop = asyncio.get_running_loop()
        transport: asyncio.Transport | None = None
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                if settings.get("path"):
                    transport, replies = await loop.create_unix_connection(
                        lambda: _Replies(self._timeout_s), settings["path"]
                    )
                else:
                    transport, replies = await loop.create_connection(
                        lambda: _Replies(self._timeout_s),
                        settings.get("host", "localhost"),
                        settings.get("port", 6379),
                        ssl=self._ssl_context(),
                    )
                for command in self._handshake():
                    await replies.call(command)
        except TimeoutError as exc:  # asyncio's: Redis took the connection but did not answer
            if transport is not None:
                transport.abort()
            raise RedisTimeoutError("Timeout connecting to Redis") from exc
        except OSError as exc:  # refused, unreachable
            if transport is not None:
                transport.abort()
            raise ConnectionError(f"Error connecting to Redis: {type(exc).__name__}") from exc
        except BaseException:
            if transport is not None:
                transport.abort()
            raise
        return replies

    def _ssl_context(self) -> Any:
        if not issubclass(self._pool.connection_class, SSLConnection):
            return None
        # redis-py's own reading of the ssl_* settings (certificates, checks, versions).
        connection = self._pool.connection_class(**self._pool.connection_kwargs)
        return connection.ssl_context.get()

    def _handshake(self) -> list[bytes]:
        settings = self._pool.connection_kwargs
        commands: list[bytes] = []
        password, username = settings.get("password"), settings.get("username")
        if password is not None:
            auth = ("AUTH", username, password) if username else ("AUTH", password)
            commands.append(pack_command(*auth))
        if settings.get("db"):
            commands.append(pack_command("SELECT", settings["db"]))
        if settings.get("client_name"):  # how CLIENT LIST shows this connection
            commands.append(pack_command("CLIENT", "SETNAME", settings["client_name"]))
        return commands

    async def close(self) -> None:
        self._closed = True
        replies, self._replies = self._replies, None
        if replies is not None:
            replies.abort(ConnectionError("Closed"))


class Script:
    """A Lua script, run by EVALSHA, or by EVAL when Redis has not cached it (a restart, or
    SCRIPT FLUSH; EVAL caches it again)."""

    def __init__(self, source: str) -> None:
        self.text = source
        self.source = source.encode()
        self.sha = hashlib.sha1(self.source, usedforsecurity=False).hexdigest().encode()

    async def run(self, pipe: RedisPipe, keys: list[str], args: list[Arg]) -> Any:
        try:
            return await pipe.execute(pack_command(b"EVALSHA", self.sha, len(keys), *keys, *args))
        except NoScriptError:
            return await pipe.execute(pack_command(b"EVAL", self.source, len(keys), *keys, *args))


@dataclass(frozen=True, slots=True)
class Rider:
    """A script run in the same call as another, when that one's outcome allows: its Lua
    source, which sees only its own KEYS and ARGV, and this run's keys and arguments. Where one
    step follows another that may refuse (an answer admitted under the rate limits, then
    claimed by the process that writes it), it saves the second call's round trip, and both
    happen at once or the second not at all."""

    source: str
    keys: list[str]
    args: list[Arg]

    def carrying(self, rider: Rider) -> Rider:
        """This script with `rider` riding on an outcome of 1: one rider of two steps, whose
        outcome is as `BoundScript.carrying`'s."""
        return Rider(
            _carrying(self.source, rider.source, RIDES_ON_ONE),
            [*self.keys, *rider.keys],
            [len(self.keys), len(self.args), *self.args, *rider.args],
        )


RIDES_ON_ONE = "outcome == 1"


def _carrying(source: str, rider_source: str, rides_when: str) -> str:
    """One script of two: ARGV[1] and ARGV[2] count the first's keys and arguments, which come
    first; each body runs as a function whose parameters shadow Redis's KEYS and ARGV. Returns
    {the first's outcome, the rider's (1 for none)}, or {the first's outcome} if it did not
    ride."""
    return (
        f"local function first(KEYS, ARGV)\n{source}\nend\n"
        f"local function rider(KEYS, ARGV)\n{rider_source}\nend\n"
        "local nkeys, nargs = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
        "local outcome = first({unpack(KEYS, 1, nkeys)}, {unpack(ARGV, 3, nargs + 2)})\n"
        f"if {rides_when} then\n"
        "  return {outcome, rider({unpack(KEYS, nkeys + 1)}, {unpack(ARGV, nargs + 3)}) or 1}\n"
        "end\n"
        "return {outcome}\n"
    )


class BoundScript:
    """A script called through a `RawCommands`: `await script(keys, args)`, or with a rider,
    `await script.carrying(keys, args, rider)`. `rides_when`: a Lua condition on the script's
    `outcome` under which a rider runs."""

    def __init__(self, pipe: RedisPipe, script: Script, rides_when: str) -> None:
        self._pipe = pipe
        self._script = script
        self._rides_when = rides_when
        self._carrying: dict[str, Script] = {}  # by rider source: a few at most

    async def __call__(self, keys: list[str], args: list[Arg]) -> Any:
        return await self._script.run(self._pipe, keys, args)

    async def carrying(self, keys: list[str], args: list[Arg], rider: Rider) -> tuple[Any, Any]:
        """The script's outcome, and the rider's (None if it did not run)."""
        script = self._carrying.get(rider.source)
        if script is None:
            script = Script(_carrying(self._script.text, rider.source, self._rides_when))
            self._carrying[rider.source] = script
        reply = await script.run(
            self._pipe, [*keys, *rider.keys], [len(keys), len(args), *args, *rider.args]
        )
        return reply[0], (reply[1] if len(reply) > 1 else None)


class RawCommands:
    """Commands and scripts from many tasks at once, pipelined on one connection."""

    def __init__(self, redis: Redis) -> None:
        self._pipe = RedisPipe(redis.connection_pool)

    def script(self, source: str, rides_when: str = RIDES_ON_ONE) -> BoundScript:
        return BoundScript(self._pipe, Script(source), rides_when)

    async def command(self, *args: Arg) -> Any:
        return await self._pipe.execute(pack_command(*args))

    async def close(self) -> None:
        await self._pipe.close()


class ScriptConnection:
    """One script on a connection of its own (the stream log's writer, whose writes are large
    and must not hold up the small calls of answers starting)."""

    def __init__(self, redis: Redis, script: str) -> None:
        self._pipe = RedisPipe(redis.connection_pool)
        self._script = Script(script)

    async def call(self, keys: list[str], args: list[Arg]) -> Any:
        """Run the script (once more on a new connection if the one in use was lost: the
        script must be safe to run twice, as the stream log's is: its entries have fixed ids)."""
        return await self._script.run(self._pipe, keys, args)

    async def close(self) -> None:
        await self._pipe.close()
