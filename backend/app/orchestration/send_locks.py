"""One send of a client_message_id at a time: repeats wait for the first, then attach to it;
and the Stops that named a send before it reached the server.

Without this, twenty concurrent repeats of one id all miss the look-up, all pass the rate
limits (counting twenty messages) and race to store; twenty retries of a failed answer all
replace it. Held around look-up, admission and storing only (milliseconds), never around the
answer: a repeat that waited then finds the turn and reads it, counted by no limit. A retry
that waited while another request stored a turn for the same id is told so (`sent_meanwhile`):
it attaches to that new answer rather than retrying once more.

A Stop pressed before the send reached the server (`POST /chat/cancel`, which finds no answer)
is remembered a minute under the same (user, id); the send that stores a turn for the id learns
of it when it lets go of the id (`HeldSend.stop_requested`), and stops its answer. Whichever of
the two comes first, the other sees it: the Stop looks for the answer again after remembering.

In process by default; with REDIS_URL also a Redis key per (user, id), set with NX and a short
expiry, so repeats spread over several processes wait for each other too, and a process that
dies holding one never blocks the id for long. Uncontended, that is two round trips a send:
one script takes the key (and reads how many turns the id has had), one gives it back (and
takes a Stop remembered for the id). The take can carry the send's admission (`hold`'s
`ahead`): it runs in the same call when the key is taken at once and the id has had no turn
(nearly every new message), and `HeldSend.ride` is its reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from app.core.redis_calls import Arg, RawCommands, Rider

# Longer than any look-up and store; a holder that died releases the id after this.
HOLD_S = 10.0
POLL_S = 0.01
STOPPED_SEND_TTL_S = 60

# KEYS: the id's lock, its count of stored turns. Returns {taken, count}. Taken again by the
# same holder (a call repeated on a new connection) is taken.
_TAKE = """
local holder = redis.call('GET', KEYS[1])
local taken = 0
if holder == ARGV[1] then
  taken = 1
elseif not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  taken = 1
end
return {taken, tonumber(redis.call('GET', KEYS[2]) or '0')}
"""
# A rider of _TAKE runs when the id is taken and has had no turn.
_RIDES_WHEN_NEW = "outcome[1] == 1 and outcome[2] == 0"
# KEYS: the same, and the id's remembered Stop. Counts a turn stored under the lock and takes
# the Stop (returns 1 if there was one), then deletes the lock if still ours.
_GIVE_BACK = """
local stopped = 0
if ARGV[2] == '1' then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  stopped = redis.call('DEL', KEYS[3])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return stopped
"""

_Key = tuple[uuid.UUID, str]


@dataclass
class HeldSend:
    """The right to look up and store one client_message_id now."""

    sent_meanwhile: bool
    stored: bool = False
    # Set when the id is let go, if a turn was stored: a Stop named the send meanwhile.
    stop_requested: bool = False
    # The reply of the script that rode on the take (`hold`'s `ahead`), if it ran.
    ride: Any = None

    def mark_stored(self) -> None:
        """A turn was stored for the id: those waiting for it must not store another."""
        self.stored = True


class _StoppedSends:
    """Embedded mode: sends stopped before they reached the server, remembered a minute."""

    def __init__(self) -> None:
        self._until: dict[_Key, float] = {}

    def remember(self, key: _Key) -> None:
        now = time.monotonic()
        self._until = {key: until for key, until in self._until.items() if until > now}
        self._until[key] = now + STOPPED_SEND_TTL_S

    def take(self, key: _Key) -> bool:
        if not self._until:  # every send asks: nearly always nothing to look at
            return False
        until = self._until.pop(key, None)
        return until is not None and until > time.monotonic()


def _redis_keys(key: _Key) -> list[str]:
    """The id's lock, its count of stored turns, its remembered Stop."""
    user_id, client_message_id = key
    return [
        f"chatstream:sending:{user_id}:{client_message_id}",
        f"chatstream:sent:{user_id}:{client_message_id}",
        f"chatstream:stopped-send:{user_id}:{client_message_id}",
    ]


class SendLocks:
    def __init__(self, redis: Redis | None = None) -> None:
        self._local: dict[_Key, asyncio.Lock] = {}
        self._waiters: dict[_Key, int] = {}
        # Turns stored per id while someone waited for it (in process).
        self._stores: dict[_Key, int] = {}
        self._stopped = _StoppedSends()
        self._redis = RawCommands(redis) if redis is not None else None
        if self._redis is not None:
            self._take = self._redis.script(_TAKE, rides_when=_RIDES_WHEN_NEW)
            self._give_back = self._redis.script(_GIVE_BACK)

    async def remember_stop(self, user_id: uuid.UUID, client_message_id: str) -> None:
        """A Stop named this send, which has stored no turn yet: the send that stores one
        stops its answer (`HeldSend.stop_requested`)."""
        key = (user_id, client_message_id)
        if self._redis is None:
            self._stopped.remember(key)
        else:
            await self._redis.command("SET", _redis_keys(key)[2], 1, "EX", STOPPED_SEND_TTL_S)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.close()

    @contextlib.asynccontextmanager
    async def hold(
        self, user_id: uuid.UUID, client_message_id: str, ahead: Rider | None = None
    ) -> AsyncIterator[HeldSend]:
        """`ahead`: a script to run in the take's call (with Redis) if the id is taken at once
        and has had no turn: what a new message does next, a round trip sooner."""
        key = (user_id, client_message_id)
        lock = self._local.setdefault(key, asyncio.Lock())
        self._waiters[key] = self._waiters.get(key, 0) + 1
        stores_before = self._stores.get(key, 0)
        try:
            async with lock:  # in this process first: no Redis polling among local repeats
                if self._redis is None:
                    held = HeldSend(sent_meanwhile=self._stores.get(key, 0) != stores_before)
                    yield held
                    held.stop_requested = held.stored and self._stopped.take(key)
                else:
                    async with self._held_in_redis(key, ahead) as held:
                        held.sent_meanwhile |= self._stores.get(key, 0) != stores_before
                        yield held
                if held.stored and self._waiters[key] > 1:
                    self._stores[key] = self._stores.get(key, 0) + 1
        finally:
            self._waiters[key] -= 1
            if not self._waiters[key]:  # the last one out forgets the id
                del self._waiters[key]
                del self._local[key]
                self._stores.pop(key, None)

    @contextlib.asynccontextmanager
    async def _held_in_redis(self, key: _Key, ahead: Rider | None) -> AsyncIterator[HeldSend]:
        names = _redis_keys(key)
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HOLD_S
        lock_and_count = names[:2]
        take_args: list[Arg] = [token, int(HOLD_S * 1000)]
        ride = None
        if ahead is None:
            taken, stores_before = await self._take(lock_and_count, take_args)
        else:
            (taken, stores_before), ride = await self._take.carrying(
                lock_and_count, take_args, ahead
            )
        stores_now = stores_before
        while not taken and loop.time() <= deadline:
            await asyncio.sleep(POLL_S)
            taken, stores_now = await self._take(lock_and_count, take_args)
        # Not taken by the deadline: its holder died; go ahead (the store's unique key guards).
        held = HeldSend(sent_meanwhile=stores_now != stores_before, ride=ride)
        try:
            yield held
        finally:
            stored = "1" if held.stored else "0"
            stopped = await self._give_back(names, [token, stored, int(HOLD_S * 6)])
            held.stop_requested = stopped == 1
