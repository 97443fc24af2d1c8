"""One send of a client_message_id at a time: repeats wait for the first, then attach to it.

Without this, twenty concurrent repeats of one id all miss the look-up, all pass the rate
limits (counting twenty messages) and race to store; twenty retries of a failed answer all
replace it. Held around look-up, admission and storing only (milliseconds), never around the
answer: a repeat that waited then finds the turn and reads it, counted by no limit. A retry
that waited while another request stored a turn for the same id is told so (`sent_meanwhile`):
it attaches to that new answer rather than retrying once more.

In process by default; with REDIS_URL a Redis key per (user, id) set with NX and a short
expiry, so repeats spread over several processes wait for each other too, and a process that
dies holding one never blocks the id for long.
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
_DELETE_IF_OURS = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)

_Key = tuple[uuid.UUID, str]


@dataclass
class HeldSend:
    """The right to look up and store one client_message_id now."""

    sent_meanwhile: bool
    _mark: asyncio.Future[None] | None = None


class SendLocks:
    def __init__(self, redis: Redis | None = None) -> None:
        self._redis = redis
        self._local: dict[_Key, asyncio.Lock] = {}
        self._waiters: dict[_Key, int] = {}
        # Turns stored per id while someone waited for it (in process).
        self._stores: dict[_Key, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, user_id: uuid.UUID, client_message_id: str) -> AsyncIterator[HeldSend]:
        key = (user_id, client_message_id)
        lock = self._local.setdefault(key, asyncio.Lock())
        self._waiters[key] = self._waiters.get(key, 0) + 1
        stores_before = self._stores.get(key, 0)
        remote_before = await self._remote_stores(key)
        try:
            async with lock:  # in this process first: no Redis polling among local repeats
                async with self._held_in_redis(key):
                    meanwhile = self._stores.get(key, 0) != stores_before or (
                        await self._remote_stores(key) != remote_before
                    )
                    held = HeldSend(sent_meanwhile=meanwhile)
                    yield held
        finally:
            self._waiters[key] -= 1
            if not self._waiters[key]:  # the last one out forgets the id
                del self._waiters[key]
                del self._local[key]
                self._stores.pop(key, None)

    async def stored(self, user_id: uuid.UUID, client_message_id: str) -> None:
        """The holder stored a turn for this id: those waiting for it must not store another."""
        key = (user_id, client_message_id)
        if key in self._waiters:
            self._stores[key] = self._stores.get(key, 0) + 1
        if self._redis is not None:
            name = _stores_key(key)
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(name)
                pipe.expire(name, int(HOLD_S * 6))
                await pipe.execute()

    async def _remote_stores(self, key: _Key) -> int:
        if self._redis is None:
            return 0
        value = await self._redis.get(_stores_key(key))
        return int(value or 0)

    @contextlib.asynccontextmanager
    async def _held_in_redis(self, key: _Key) -> AsyncIterator[None]:
        if self._redis is None:
            yield
            return
        name = f"chatstream:sending:{key[0]}:{key[1]}"
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HOLD_S
        while not await self._redis.set(name, token, nx=True, px=int(HOLD_S * 1000)):
            if loop.time() > deadline:
                break  # its holder died: go ahead (the store's unique key still guards)
            await asyncio.sleep(POLL_S)
        try:
            yield
        finally:
            # Only our own key (compared and deleted at once): after HOLD_S another may hold it.
            await self._redis.eval(_DELETE_IF_OURS, 1, name, token)


def _stores_key(key: _Key) -> str:
    return f"chatstream:sent:{key[0]}:{key[1]}"
