"""Owner leases (scaled mode): which process writes each answer, and noticing that it died.

`chatstream:owners` maps an answer in flight to its writer's token; `chatstream:live` holds the
same answers scored by when their lease lapses (milliseconds on Redis's own clock, so the
machines' clocks never matter). Each process renews all of its leases in one script call about
every second. A lease that lapsed belongs to a process that died (`kill -9`, out of memory); the
first survivor to take it over, atomically, ends the answer's log and stores it from there
(app/orchestration/recovery.py). The stream log's writes are fenced on the same hash
(redis_log.py), so a process that comes back from a long pause writes nothing more.

Readers on other processes mark themselves in `chatstream:readers:<answer id>` (scored by expiry
too), so the writer's disconnect grace window counts every reader, wherever it is.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.metrics import LEASES_LOST
from app.core.redis_calls import RawCommands, Rider
from app.streaming.generation import StopReason
from app.streaming.redis_log import LIVE_KEY, OWNERS_KEY, log_key

log = structlog.get_logger("chatstream.streaming")

# A reader's mark outlives the interval at which it is renewed (redis_log.READ_BLOCK_S) twice.
READER_MARK_MS = 3000

# Milliseconds now, on Redis's clock.
_NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

# KEYS[3], if given: the answer's log, deleted (a Continue starts it afresh).
_CLAIM = (
    _NOW
    + """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
if KEYS[3] then redis.call('DEL', KEYS[3]) end
"""
)
# Returns the answers that are no longer this process's.
_RENEW = (
    _NOW
    + """
local lost = {}
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[i])
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
"""
)
_RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
"""
_LAPSED = _NOW + "return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[1])\n"
_TAKE_OVER = (
    _NOW
    + """
local lapses = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not lapses or tonumber(lapses) >= now then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return 1
"""
)
_MARK_READER = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
"""
)
_COUNT_READERS = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""
)

LeaseLost = Callable[[uuid.UUID, StopReason], None]


def readers_key(message_id: uuid.UUID) -> str:
    return f"chatstream:readers:{message_id}"


class StreamLeases:
    """This process's leases on the answers it writes, and the survivors' side of them."""

    def __init__(
        self, redis: Redis, *, owner_token: str, lease_s: float, on_lost: LeaseLost
    ) -> None:
        self._token = owner_token
        self.lease_s = lease_s
        self._lease_ms = int(lease_s * 1000)
        self._on_lost = on_lost
        self._owned: set[uuid.UUID] = set()
        calls = self._calls = RawCommands(redis)
        self._claim = calls.script(_CLAIM)
        self._renew = calls.script(_RENEW)
        self._release = calls.script(_RELEASE)
        self._lapsed = calls.script(_LAPSED)
        self._take_over = calls.script(_TAKE_OVER)
        self._mark_reader = calls.script(_MARK_READER)
        self._count_readers = calls.script(_COUNT_READERS)
        self._task: asyncio.Task[None] | None = None

    @property
    def renew_interval_s(self) -> float:
        return max(0.05, min(1.0, self.lease_s / 5))

    # The writer's side --------------------------------------------------------------------------

    async def claim(self, message_id: uuid.UUID, *, fresh_log: bool = False) -> None:
        """This process writes the answer from now on (before its turn is stored); a Continue
        starts its log afresh, so that readers of the new run never meet the old terminal
        event."""
        rider = self.claim_rider(message_id, fresh_log=fresh_log)
        await self._claim(rider.keys, rider.args)
        self.claimed(message_id)

    def claim_rider(self, message_id: uuid.UUID, *, fresh_log: bool = False) -> Rider:
        """The claim, to run in the call of another script (the rate limits' admission);
        `claimed` once it ran."""
        keys = [OWNERS_KEY, LIVE_KEY, log_key(message_id)] if fresh_log else [OWNERS_KEY, LIVE_KEY]
        return Rider(_CLAIM, keys, [str(message_id), self._token, self._lease_ms])

    def claimed(self, message_id: uuid.UUID) -> None:
        self._owned.add(message_id)

    async def release(self, message_id: uuid.UUID) -> None:
        """The answer has ended (its terminal event is in the log): nobody owns it any more."""
        self._owned.discard(message_id)
        await self._release(keys=[OWNERS_KEY, LIVE_KEY], args=[str(message_id), self._token])

    def forget(self, message_id: uuid.UUID) -> None:
        """The answer's terminal write lets go of its lease (redis_log.py): renew it no more."""
        self._owned.discard(message_id)

    def start(self) -> None:
        self._task = asyncio.create_task(self._renew_forever(), name="stream-lease-renewal")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._calls.close()

    async def _renew_forever(self) -> None:
        loop = asyncio.get_running_loop()
        renewed_at = loop.time()
        while True:
            await asyncio.sleep(self.renew_interval_s)
            owned = list(self._owned)
            if not owned:
                renewed_at = loop.time()
                continue
            try:
                lost = await self._renew(
                    keys=[OWNERS_KEY, LIVE_KEY],
                    args=[self._token, self._lease_ms, *map(str, owned)],
                )
            except (RedisError, OSError) as exc:
                # Past the lease, survivors may take these answers: stop writing them here.
                if loop.time() - renewed_at > self.lease_s:
                    log.error("stream_leases_unrenewable", error_type=type(exc).__name__)
                    for message_id in owned:
                        self._lose(message_id, StopReason.LOG_LOST)
                continue
            renewed_at = loop.time()
            for raw in lost:
                self._lose(uuid.UUID(raw.decode() if isinstance(raw, bytes) else raw))

    def _lose(self, message_id: uuid.UUID, reason: StopReason = StopReason.OWNER_LOST) -> None:
        if message_id in self._owned:
            self._owned.discard(message_id)
            if reason is StopReason.OWNER_LOST:
                LEASES_LOST.inc()
                log.warning("stream_lease_lost", message_id=str(message_id))
            self._on_lost(message_id, reason)

    # The survivors' side ------------------------------------------------------------------------

    async def lapsed(self, limit: int = 50) -> list[uuid.UUID]:
        """Answers whose writer stopped renewing its lease: it died."""
        raw_ids = await self._lapsed(keys=[LIVE_KEY], args=[limit])
        return [uuid.UUID(raw.decode() if isinstance(raw, bytes) else raw) for raw in raw_ids]

    async def take_over(self, message_id: uuid.UUID) -> bool:
        """Become the owner of a lapsed answer, if no other survivor did first."""
        taken = await self._take_over(
            keys=[OWNERS_KEY, LIVE_KEY], args=[str(message_id), self._token, self._lease_ms]
        )
        if taken:
            self._owned.add(message_id)  # renewed while it is recovered
        return bool(taken)

    def owns(self, message_id: uuid.UUID) -> bool:
        return message_id in self._owned

    async def is_live(self, message_id: uuid.UUID) -> bool:
        """Does any process hold (or have held, not yet recovered) the answer's lease?"""
        return await self._calls.command("ZSCORE", LIVE_KEY, str(message_id)) is not None

    # Readers elsewhere (a ReaderPresence for redis_log.LogReader) -------------------------------

    async def mark(self, message_id: uuid.UUID, reader_id: str) -> None:
        await self._mark_reader(keys=[readers_key(message_id)], args=[reader_id, READER_MARK_MS])

    async def unmark(self, message_id: uuid.UUID, reader_id: str) -> None:
        await self._calls.command("ZREM", readers_key(message_id), reader_id)

    async def count_readers(self, message_id: uuid.UUID) -> int:
        return int(await self._count_readers(keys=[readers_key(message_id)], args=[]))
