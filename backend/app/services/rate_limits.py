"""Per-user limits: messages per hour, and streams in flight at once.

In process by default. With REDIS_URL both are enforced across processes: the hourly window as
a list per user of their latest message times on Redis, concurrent streams with Redis leases (a
sorted set per user, scored by expiry) that are renewed while a stream runs and lapse by
themselves if a process dies, so a crash never locks a user out. A new message is admitted on
Redis in one script call: its slot taken and the message counted, or neither. That call can
carry another script (the answer's claim, app/streaming/leases.py), and can itself ride on the
call of one that comes first (the send lock's take, app/orchestration/send_locks.py).

A new message is admitted by `RateLimiter.lease`: an async context manager that takes a stream
slot and counts the message on entry, and gives the slot back on exit unless the caller kept it
for the answer it started (`StreamLease.keep`; released when that answer ends).

In process, the hourly window is a deque of times per user.
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
from enum import Enum
from typing import Any

from redis.asyncio import Redis

from app.core.config import Settings
from app.core.errors import RateLimited
from app.core.metrics import RATE_LIMIT_REJECTIONS
from app.core.redis_calls import Arg, RawCommands, Rider
from app.core.redis_client import connect_redis

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
    """The moving window on Redis, shared by every process: a list per user of the times of
    their last `limit` messages, newest first. The key and its entries are the ones the `limits`
    library's moving window kept (it did this before), so a rolling upgrade counts each message
    once; the hit itself is part of `RedisLimits`' admission, in the same call as the slot."""

    def __init__(self, limit: int, redis: RawCommands) -> None:
        super().__init__(limit)
        self._redis = redis
        self._hit = redis.script(_HIT)

    def key(self, user_id: uuid.UUID) -> str:
        return f"LIMITS:LIMITER/{user_id}/{self.limit}/1/hour"

    async def _oldest_counted(self, user_id: uuid.UUID) -> float | None:
        """The time of the message that leaves room for one more when it leaves the window."""
        entry = await self._redis.command("LINDEX", self.key(user_id), self.limit - 1)
        return None if entry is None else float(entry)

    async def test(self, user_id: uuid.UUID) -> bool:
        oldest = await self._oldest_counted(user_id)
        return oldest is None or oldest < time.time() - HOUR_S

    async def hit(self, user_id: uuid.UUID) -> bool:
        return bool(await self._hit(keys=[self.key(user_id)], args=[time.time(), self.limit]))

    async def retry_after_s(self, user_id: uuid.UUID) -> int:
        oldest = await self._oldest_counted(user_id)
        if oldest is None:
            return 1
        return max(1, math.ceil(oldest + HOUR_S - time.time()))


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


# The hourly window's check and count (KEYS[1]: the window; ARGV: now, the limit), as `limits`
# did it: refused while the limit-th newest message is less than an hour old.
_HIT = """
local oldest = redis.call('LINDEX', KEYS[1], tonumber(ARGV[2]) - 1)
if oldest and tonumber(oldest) >= tonumber(ARGV[1]) - 3600 then return 0 end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('EXPIRE', KEYS[1], 3600)
return 1
"""

# Atomic: drop lapsed leases, then add this one only if the user is under the limit.
# KEYS[1]: the user's leases. ARGV: now, the lease's expiry, its id, the limit, the set's TTL (ms).
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

# A new message admitted in one call: a stream slot taken and the message counted, or neither.
# KEYS[1]: the user's leases, KEYS[2]: their hourly window. ARGV: as _ACQUIRE's, then the hourly
# limit. Returns 1 admitted, 0 refused for concurrent streams, -1 refused for the hour. A lease
# already held was admitted before: it is not counted again (a repeated call counts once).
_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
local oldest = redis.call('LINDEX', KEYS[2], tonumber(ARGV[6]) - 1)
if oldest and tonumber(oldest) >= tonumber(ARGV[1]) - 3600 then return -1 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[6]) - 1)
redis.call('EXPIRE', KEYS[2], 3600)
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


# An admission undone (a repeat admitted along with its send lock found its turn stored after
# all): its slot given back and its message uncounted. KEYS: as _ADMIT's; ARGV: the lease's id,
# the time the admission counted.
_UNADMIT = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('LREM', KEYS[2], 1, ARGV[2])
"""

# The running streams' leases renewed. KEYS: each lease's set; ARGV: the new expiry, the sets'
# TTL (ms), then each lease's id (in KEYS' order). A lease already released stays released.
_RENEW = """
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', ARGV[1], ARGV[i + 2])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
"""


class RedisStreamSlots(StreamSlots):
    def __init__(
        self, limit: int, redis: str | RawCommands, lease_ttl_s: float = LEASE_TTL_S
    ) -> None:
        """`redis`: a URL (these slots then have a client of their own), or the commands of a
        client shared with the hourly window."""
        super().__init__(limit)
        self._own_client: Redis | None = None
        if isinstance(redis, str):
            self._own_client = connect_redis(redis)
            redis = RawCommands(self._own_client)
        self._redis = redis
        self._acquire = self._redis.script(_ACQUIRE)
        self._admit = self._redis.script(_ADMIT)
        self._unadmit = self._redis.script(_UNADMIT)
        self._renew = self._redis.script(_RENEW)
        self._ttl_s = lease_ttl_s
        self._held: dict[uuid.UUID, uuid.UUID] = {}  # lease -> user
        self._renewer: asyncio.Task[None] | None = None

    @staticmethod
    def _key(user_id: uuid.UUID) -> str:
        return f"chatstream:streams:{user_id}"

    def _lease_args(self, lease_id: uuid.UUID) -> list[Arg]:
        now = time.time()
        return [now, now + self._ttl_s, str(lease_id), self.limit, int(self._ttl_s * 2000)]

    async def acquire(self, user_id: uuid.UUID, lease_id: uuid.UUID) -> bool:
        admitted = await self._acquire(keys=[self._key(user_id)], args=self._lease_args(lease_id))
        if admitted:
            self._hold(user_id, lease_id)
        return bool(admitted)

    def admission(
        self, user_id: uuid.UUID, lease_id: uuid.UUID, hourly: RedisHourlyWindow
    ) -> Rider:
        """Take a slot and count the message in `hourly`, or neither: the script and its
        keys and arguments, to run alone (`admit`) or in another script's call."""
        return Rider(
            _ADMIT,
            [self._key(user_id), hourly.key(user_id)],
            [*self._lease_args(lease_id), hourly.limit],
        )

    async def admit(self, admission: Rider, rider: Rider | None = None) -> tuple[int, bool]:
        """Run an admission, and the rider in the same call if it admits: its outcome (1
        admitted, 0 refused for concurrent streams, -1 for the hour) and whether the rider
        ran."""
        if rider is None:
            return int(await self._admit(admission.keys, admission.args)), False
        outcome, ridden = await self._admit.carrying(admission.keys, admission.args, rider)
        return int(outcome), ridden is not None

    def admitted(self, user_id: uuid.UUID, lease_id: uuid.UUID, outcome: int) -> Refusal | None:
        """What an admission's outcome means; an admitted lease is renewed from now on."""
        if outcome == 0:
            return Refusal.CONCURRENT_STREAMS
        if outcome == -1:
            return Refusal.MESSAGES_PER_HOUR
        self._hold(user_id, lease_id)
        return None

    async def unadmit(self, user_id: uuid.UUID, lease_id: uuid.UUID, admission: Rider) -> None:
        """Undo an admission: its slot given back, its message uncounted."""
        self._held.pop(lease_id, None)
        await self._unadmit(admission.keys, [str(lease_id), admission.args[0]])

    def _hold(self, user_id: uuid.UUID, lease_id: uuid.UUID) -> None:
        self._held[lease_id] = user_id
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_forever())

    async def release(self, user_id: uuid.UUID, lease_id: uuid.UUID) -> None:
        self._held.pop(lease_id, None)
        await self._redis.command("ZREM", self._key(user_id), str(lease_id))

    async def in_use(self, user_id: uuid.UUID) -> int:
        # Leases whose expiry has passed are not counted (`acquire` removes them): one read.
        return int(
            await self._redis.command("ZCOUNT", self._key(user_id), f"({time.time()}", "+inf")
        )

    async def _renew_forever(self) -> None:
        while self._held:
            await asyncio.sleep(self._ttl_s / 3)
            held = list(self._held.items())
            with contextlib.suppress(Exception):  # a missed renewal only shortens a lease
                await self._renew(
                    keys=[self._key(user_id) for _, user_id in held],
                    args=[
                        time.time() + self._ttl_s,
                        int(self._ttl_s * 2000),
                        *(str(lease_id) for lease_id, _ in held),
                    ],
                )

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
        await self._redis.close()
        if self._own_client is not None:
            await self._own_client.aclose()


class Refusal(Enum):
    CONCURRENT_STREAMS = "concurrent_streams"
    MESSAGES_PER_HOUR = "messages_per_hour"


class RateLimiter:
    """Both per-user limits, checked before a new message is stored."""

    def __init__(self, settings: Settings) -> None:
        hourly = settings.rate_limit_messages_per_hour
        concurrent = settings.rate_limit_concurrent_streams
        self._redis: Redis | None = None
        if settings.redis_url:
            self._redis = connect_redis(settings.redis_url)
            commands = RawCommands(self._redis)
            self.hourly: HourlyWindow = RedisHourlyWindow(hourly, commands)
            self.slots: StreamSlots = RedisStreamSlots(concurrent, commands)
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

    def lease(
        self, user_id: uuid.UUID, lease_id: uuid.UUID, rider: Rider | None = None
    ) -> StreamLease:
        """`async with limiter.lease(user, answer_id) as lease:` admits one new message. With
        the limits on Redis, a rider runs in the admission's own call (`lease.rode`)."""
        return StreamLease(self, user_id, lease_id, rider)

    def admission(self, lease: StreamLease) -> Rider | None:
        """With the limits on Redis: the lease's admission, carrying its rider, to run in the
        call of another script that comes first (the send lock's take), whose caller hands
        the outcome back with `StreamLease.admitted_with`. None in process."""
        slots, hourly = self.slots, self.hourly
        if not isinstance(slots, RedisStreamSlots) or not isinstance(hourly, RedisHourlyWindow):
            return None
        lease.admission = slots.admission(lease.user_id, lease.lease_id, hourly)
        if lease.rider is None:
            return lease.admission
        return lease.admission.carrying(lease.rider)

    async def _admit(self, lease: StreamLease) -> None:
        """Take a stream slot and count one message, or raise RateLimited and take nothing."""
        user_id = lease.user_id
        refusal = await self._take(lease)
        if refusal is Refusal.CONCURRENT_STREAMS:
            raise self._concurrency_refusal()
        if refusal is Refusal.MESSAGES_PER_HOUR:
            raise await self._hourly_refusal(user_id)

    async def _take(self, lease: StreamLease) -> Refusal | None:
        user_id, lease_id = lease.user_id, lease.lease_id
        slots, hourly = self.slots, self.hourly
        if lease.outcome_ahead is not None:  # admitted (or not) in another script's call
            assert isinstance(slots, RedisStreamSlots)
            return slots.admitted(user_id, lease_id, lease.outcome_ahead)
        if isinstance(slots, RedisStreamSlots) and isinstance(hourly, RedisHourlyWindow):
            # One round trip, the rider's included.
            lease.admission = slots.admission(user_id, lease_id, hourly)
            outcome, lease.rode = await slots.admit(lease.admission, lease.rider)
            return slots.admitted(user_id, lease_id, outcome)
        if not await self.slots.acquire(user_id, lease_id):
            return Refusal.CONCURRENT_STREAMS
        if not await self.hourly.hit(user_id):
            await self.slots.release(user_id, lease_id)
            return Refusal.MESSAGES_PER_HOUR
        return None

    async def close(self) -> None:
        await self.slots.close()
        if self._redis is not None:
            await self._redis.aclose()


class StreamLease:
    """One admitted message: its stream slot is held from entry until released.

    Leaving the `async with` block releases the slot, unless `keep()` handed it to the answer
    being generated, whose end calls `release()`. `rode`: the rider given ran with the
    admission (the limits are on Redis); otherwise the caller does its work apart.

    An admission made ahead, in another script's call (`RateLimiter.admission`), is handed back
    with `admitted_with`; entering the block then only reads its outcome, and `unadmit` undoes
    it if the message turns out not to be new.
    """

    __slots__ = (
        "_limiter",
        "user_id",
        "lease_id",
        "rider",
        "admission",
        "outcome_ahead",
        "rode",
        "kept",
        "_released",
    )

    def __init__(
        self,
        limiter: RateLimiter,
        user_id: uuid.UUID,
        lease_id: uuid.UUID,
        rider: Rider | None = None,
    ) -> None:
        self._limiter = limiter
        self.user_id = user_id
        self.lease_id = lease_id
        self.rider = rider
        self.admission: Rider | None = None  # on Redis: the script call that admits it
        self.outcome_ahead: int | None = None  # an admission's made ahead, once it ran
        self.rode = False
        self.kept = False
        self._released = False

    async def __aenter__(self) -> StreamLease:
        await self._limiter._admit(self)  # noqa: SLF001 - its own lease
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self.kept:
            await self.release()

    def admitted_with(self, ride: Any) -> None:
        """The reply of the admission run ahead (`RateLimiter.admission`): its outcome, or,
        with a rider, its outcome and the rider's if it ran."""
        if self.rider is None:
            self.outcome_ahead = int(ride)
        else:
            self.outcome_ahead, self.rode = int(ride[0]), len(ride) > 1

    @property
    def admitted_ahead(self) -> bool:
        return self.outcome_ahead == 1

    async def unadmit(self) -> bool:
        """Undo an admission made ahead that no answer used (the message was a repeat whose
        turn was stored, or the request failed first): nothing stays taken or counted. False
        if there was nothing to undo (used, given back, or not admitted)."""
        if not self.admitted_ahead or self.kept or self._released or self.admission is None:
            return False
        self._released = True
        slots = self._limiter.slots
        assert isinstance(slots, RedisStreamSlots)
        await slots.unadmit(self.user_id, self.lease_id, self.admission)
        return True

    def keep(self) -> None:
        self.kept = True

    async def release(self) -> None:
        if not self._released:
            self._released = True
            await self._limiter.slots.release(self.user_id, self.lease_id)
