"""One send of a client_message_id at a time: repeats wait for the first, then attach to it.

Without this, twenty concurrent repeats of one id all miss the look-up, all pass the rate
limits (counting twenty messages) and race to store; twenty retries of a failed answer all
replace it. Held around look-up, admission and storing only (milliseconds), never around the
answer: a repeat that waited then finds the turn and reads it, counted by no limit. A retry
that waited while another request stored a turn for the same id is told so (`sent_meanwhile`):
it attaches to that new answer rather than retrying once more.

In process by default; with REDIS_URL also a Redis key per (user, id), set with NX and a short
expiry, so repeats spread over several processes wait for each other too, and a process that
dies holding one never blocks the id for long. Uncontended, that is two round trips a send:
one script takes the key (and reads how many turns the id has had), one gives it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.asyncio import Redis

# Longer than any look-up and store; a holder that died releases the id after this.
HOLD_S = 10.0
POLL_S = 0.01

# KEYS: the id's lock, its count of stored turns. Returns {taken, count}.
_TAKE = """
local taken = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
return {taken, tonumber(redis.call('GET', KEYS[2]) or '0')}
"""
# KEYS: the same. Counts a turn stored under the lock, then deletes the lock if still ours.
_GIVE_BACK = """
if ARGV[2] == '1' then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""

_Key = tuple[uuid.UUID, str]


@dataclass
class HeldSend:
    """The right to look up and store one client_message_id now."""

    sent_meanwhile: bool
    stored: bool = False

    def mark_stored(self) -> None:
        """A turn was stored for the id: those waiting for it must not store another."""
        self.stored = True


class SendLocks:
    def __init__(self, redis: Redis | None = None) -> None:
        self._redis = redis
        self._local: dict[_Key, asyncio.Lock] = {}
        self._waiters: dict[_Key, int] = {}
        # Turns stored per id while someone waited for it (in process).
        self._stores: dict[_Key, int] = {}
        if redis is not None:
            self._take = redis.register_script(_TAKE)
            self._give_back = redis.register_script(_GIVE_BACK)

    @contextlib.asynccontextmanager
    async def hold(self, user_id: uuid.UUID, client_message_id: str) -> AsyncIterator[HeldSend]:
        key = (user_id, client_message_id)
        lock = self._local.setdefault(key, asyncio.Lock())
        self._waiters[key] = self._waiters.get(key, 0) + 1
        stores_before = self._stores.get(key, 0)
        try:
            async with lock:  # in this process first: no Redis polling among local repeats
                if self._redis is None:
                    held = HeldSend(sent_meanwhile=self._stores.get(key, 0) != stores_before)
                    yield held
                else:
                    async with self._held_in_redis(key) as held:
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
    async def _held_in_redis(self, key: _Key) -> AsyncIterator[HeldSend]:
        names = [f"chatstream:sending:{key[0]}:{key[1]}", f"chatstream:sent:{key[0]}:{key[1]}"]
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HOLD_S
        taken, stores_before = await self._take(keys=names, args=[token, int(HOLD_S * 1000)])
        stores_now = stores_before
        while not taken and loop.time() <= deadline:
            await asyncio.sleep(POLL_S)
            taken, stores_now = await self._take(keys=names, args=[token, int(HOLD_S * 1000)])
        # Not taken by the deadline: its holder died; go ahead (the store's unique key guards).
        held = HeldSend(sent_meanwhile=stores_now != stores_before)
        try:
            yield held
        finally:
            stored = "1" if held.stored else "0"
            await self._give_back(keys=names, args=[token, stored, int(HOLD_S * 6)])
