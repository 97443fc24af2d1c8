"""Per-user limits: messages per hour, and streams in flight at once.

In process by default. With REDIS_URL both are enforced across processes: the hourly window
with the `limits` library on Redis, concurrent streams with Redis leases (a sorted set per user,
scored by expiry) that are renewed while a stream runs and lapse by themselves if a process dies,
so a crash never locks a user out.

A new message is admitted by `RateLimiter.lease`: an async context manager that takes a stream
slot and counts the message on entry, and gives the slot back on exit unless the caller kept it
for the answer it started (`StreamLease.keep`; released when that answer ends).

In process, the hourly window is a deque of times per user. `limits`' own in-memory async
storage is not used: after every hit it walks every key, each in a round trip to a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable

from limits import RateLimitItemPerHour
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from app.core.config import Settings
from app.core.errors import RateLimited
from app.core.metrics import RATE_LIMIT_REJECTIONS

LEASE_TTL_S = 30.0
CONCURRENCY_RETRY_AFTER_S = 5
HOUR_S = 3600.0
SWEEP_EVERY_S = 600.0


class HourlyWindow(ABC):
    """At most `limit` messages per user in any hour (a moving window)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    @abstractmethod
    async def test(self, user_id: uuid.UUID) -> bool:
        """Would a message now be admitted? Counts nothing."""

    @abstractmethod
    async def hit(self, user_id: uuid.UUID) -> bool:
        """Count a message now if it is admitted; False (and nothing counted) if not."""

    @abstractmethod
    async def retry_after_s(self, user_id: uuid.UUID) -> int:
        """Seconds until a message would be admitted again."""


class MemoryHourlyWindow(HourlyWindow):
    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(limit)
        self._clock = clock
        self._hits: dict[uuid.UUID, deque[float]] = {}
        self._next_sweep = clock() + SWEEP_EVERY_S

    def _sweep(self, now: float) -> None:
        """Forget users whose every message has left the window (they may never come back)."""
        self._next_sweep = now + SWEEP_EVERY_S
        quiet = [user for user, hits in self._hits.items() if hits[-1] <= now - HOUR_S]
        for user in quiet:
            del self._hits[user]

    def _recent(self, user_id: uuid.UUID, now: float) -> deque[float]:
        hits = self._hits.get(user_id)
        if hits is None:
            hits = self._hits[user_id] = deque()
        while hits and hits[0] <= now - HOUR_S:
            hits.popleft()
        return hits

    async def test(self, user_id: uuid.UUID) -> bool:
        hits = self._recent(user_id, self._clock())
        if not hits:
            del self._hits[user_id]
        return len(hits) < self.limit

    async def hit(self, user_id: uuid.UUID) -> bool:
        now = self._clock()
        hits = self._recent(user_id, now)
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        if now >= self._next_sweep:
            self._sweep(now)
        return True

    async def retry_after_s(self, user_id: uuid.UUID) -> int:
        now = self._clock()
        hits = self._recent(user_id, now)
        if len(hits) < self.limit:
            return 1
        # Admitted again once enough of the oldest hits have left the window.
        frees_at = hits[len(hits) - self.limit] + HOUR_S
        return max(1, math.ceil(frees_at - now))


class RedisHourlyWindow(HourlyWindow):
    """The `limits` library's moving window on Redis, shared by every process."""

    def __init__(self, limit: int, redis_url: str) -> None:
        super().__init__(limit)
        self._item = RateLimitItemPerHour(limit)
        # redis-py, already a dependency (limits' default async driver is coredis).
        self._window = MovingWindowRateLimiter(
            RedisStorage("async+" + redis_url, implementation="redispy")
        )

    async def test(self, user_id: uuid.UUID) -> bool:
        return await self._window.test(self._item, str(user_id))

    async def hit(self, user_id: uuid.UUID) -> bool:
        return await self._window.hit(self._item, str(user_id))

    async def retry_after_s(self, user_id: uuid.UUID) -> int:
        stats = await self._window.get_window_stats(self._item, str(user_id))
        return max(1, math.ceil(stats.reset_time - time.time()))


class StreamSlots(ABC):
    """Leases on a user's concurrent streams."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    @abstractmethod
    async def acquire(self, user_id: uuid.UUID, lease_id: uuid.UUID) -> bool: ...

    @abstractmethod
    async def release(self, user_id: uuid.UUID, lease_id: uuid.UUID) -> None: ...

    @abstractmethod
    async def in_use(self, user_id: uuid.UUID) -> int: ...

    async def close(self) -> None:
        return None


class MemoryStreamSlots(StreamSlots):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self._leases: dict[uuid.UUID, set[uuid.UUID]] = {}

    async def acquire(self, user_id: uuid.UUID, lease_id: uuid.UUID) -> bool:
        leases = self._leases.setdefault(user_id, set())
        if lease_id in leases:
            return True
        if len(leases) >= self.limit:
            return False
        leases.add(lease_id)
        return True

    async def release(self, user_id: uuid.UUID, lease_id: uuid.UUID) -> None:
        leases = self._leases.get(user_id)
        if leases is not None:
            leases.discard(lease_id)
            if not leases:
                del self._leases[user_id]

    async def in_use(self, user_id: uuid.UUID) -> int:
        return len(self._leases.get(user_id, ()))


# Atomic: drop lapsed leases, then add this one only if the user is under the limit.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


class RedisStreamSlots(StreamSlots):
    def __init__(self, limit: int, redis_url: str, lease_ttl_s: float = LEASE_TTL_S) -> None:
        from redis.asyncio import Redis

        super().__init__(limit)
        self._redis = Redis.from_url(redis_url)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._ttl_s = lease_ttl_s
        self._held: dict[uuid.UUID, uuid.UUID] = {}  # lease -> user
        self._renewer: asyncio.Task[None] | None = None

    @staticmethod
    def _key(user_id: uuid.UUID) -> str:
        return f"chatstream:streams:{user_id}"

    async def acquire(self, user_id: uuid.UUID, lease_id: uuid.UUID) -> bool:
        now = time.time()
        admitted = await self._acquire(
            keys=[self._key(user_id)],
            args=[now, now + self._ttl_s, str(lease_id), self.limit, int(self._ttl_s * 2000)],
        )
        if admitted:
            self._held[lease_id] = user_id
            if self._renewer is None or self._renewer.done():
                self._renewer = asyncio.create_task(self._renew_forever())
        return bool(admitted)

    async def release(self, user_id: uuid.UUID, lease_id: uuid.UUID) -> None:
        self._held.pop(lease_id, None)
        await self._redis.zrem(self._key(user_id), str(lease_id))

    async def in_use(self, user_id: uuid.UUID) -> int:
        # Leases whose expiry has passed are not counted (`acquire` removes them): one read.
        count: int = await self._redis.zcount(self._key(user_id), f"({time.time()}", "+inf")
        return count

    async def _renew_forever(self) -> None:
        while self._held:
            await asyncio.sleep(self._ttl_s / 3)
            expiry = time.time() + self._ttl_s
            with contextlib.suppress(Exception):  # a missed renewal only shortens a lease
                async with self._redis.pipeline(transaction=False) as pipe:
                    for lease_id, user_id in list(self._held.items()):
                        pipe.zadd(self._key(user_id), {str(lease_id): expiry}, xx=True)
                        # The set itself must outlive its renewed leases too.
                        pipe.pexpire(self._key(user_id), int(self._ttl_s * 2000))
                    await pipe.execute()

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
        await self._redis.aclose()


class RateLimiter:
    """Both per-user limits, checked before a new message is stored."""

    def __init__(self, settings: Settings) -> None:
        hourly = settings.rate_limit_messages_per_hour
        concurrent = settings.rate_limit_concurrent_streams
        if settings.redis_url:
            self.hourly: HourlyWindow = RedisHourlyWindow(hourly, settings.redis_url)
            self.slots: StreamSlots = RedisStreamSlots(concurrent, settings.redis_url)
        else:
            self.hourly = MemoryHourlyWindow(hourly)
            self.slots = MemoryStreamSlots(concurrent)

    async def _hourly_refusal(self, user_id: uuid.UUID) -> RateLimited:
        RATE_LIMIT_REJECTIONS.labels(limit="messages_per_hour").inc()
        return RateLimited(
            f"You have reached the limit of {self.hourly.limit} messages per hour.",
            retry_after_s=await self.hourly.retry_after_s(user_id),
        )

    def _concurrency_refusal(self) -> RateLimited:
        RATE_LIMIT_REJECTIONS.labels(limit="concurrent_streams").inc()
        return RateLimited(
            f"You already have {self.slots.limit} answers in progress; wait for one to finish.",
            retry_after_s=CONCURRENCY_RETRY_AFTER_S,
        )

    async def check(self, user_id: uuid.UUID) -> None:
        """Refuse early (e.g. when a stream token is requested) if a send would be refused."""
        if not await self.hourly.test(user_id):
            raise await self._hourly_refusal(user_id)
        if await self.slots.in_use(user_id) >= self.slots.limit:
            raise self._concurrency_refusal()

    def lease(self, user_id: uuid.UUID, lease_id: uuid.UUID) -> StreamLease:
        """`async with limiter.lease(user, answer_id) as lease:` admits one new message."""
        return StreamLease(self, user_id, lease_id)

    async def _admit(self, user_id: uuid.UUID, lease_id: uuid.UUID) -> None:
        """Take a stream slot and count one message, or raise RateLimited and take nothing."""
        if not await self.slots.acquire(user_id, lease_id):
            raise self._concurrency_refusal()
        if not await self.hourly.hit(user_id):
            await self.slots.release(user_id, lease_id)
            raise await self._hourly_refusal(user_id)

    async def close(self) -> None:
        await self.slots.close()


class StreamLease:
    """One admitted message: its stream slot is held from entry until released.

    Leaving the `async with` block releases the slot, unless `keep()` handed it to the answer
    being generated, whose end calls `release()`.
    """

    __slots__ = ("_limiter", "user_id", "lease_id", "_kept", "_released")

    def __init__(self, limiter: RateLimiter, user_id: uuid.UUID, lease_id: uuid.UUID) -> None:
        self._limiter = limiter
        self.user_id = user_id
        self.lease_id = lease_id
        self._kept = False
        self._released = False

    async def __aenter__(self) -> StreamLease:
        await self._limiter._admit(self.user_id, self.lease_id)  # noqa: SLF001 - its own lease
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self._kept:
            await self.release()

    def keep(self) -> None:
        self._kept = True

    async def release(self) -> None:
        if not self._released:
            self._released = True
            await self._limiter.slots.release(self.user_id, self.lease_id)
