"""Scaled mode (REDIS_URL set): what lets any process serve, stop and recover any answer.

- The stream log (app/streaming/redis_log.py): every answer's events in a Redis Stream, read by
  any process, resumed exactly.
- Owner leases (app/streaming/leases.py): the process writing an answer renews its lease about
  every second; its log writes are fenced on it.
- Stops: `POST .../cancel` on any process publishes the answer's id on `chatstream:stop`; the
  process writing it stops it, stores the partial answer and writes the terminal `cancelled`
  event, which the canceller waits for before it answers.
- Recovery: every process looks for lapsed leases about every second; the first to take one over
  ends that answer's log with an `error` event (`internal`, retryable) and stores the partial
  answer from the log as `interrupted`, so a `kill -9` loses nothing that was streamed.
- Stops that name a send before it reached the server (`POST /chat/cancel`) are remembered with
  the send's lock (send_locks.py).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC
from itertools import accumulate
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from app.core.config import Settings
from app.core.metrics import ANSWERS_RECOVERED
from app.core.redis_client import connect_redis
from app.db.base import utcnow
from app.db.models import Message, MessageStatus
from app.db.session import Database
from app.persistence import store_if_unfinished
from app.schemas.records import AnswerRecord
from app.services import turns
from app.streaming.events import ErrorCode, ErrorEvent, StartEvent, StreamEvent
from app.streaming.generation import StopReason
from app.streaming.leases import StreamLeases
from app.streaming.redis_log import (
    READ_BLOCK_S,
    UNLOGGED_LEAD,
    LogContents,
    LogReader,
    StreamLog,
    last_entry,
    log_key,
    read_whole_log,
    wait_for_end,
)
from app.streaming.replay import run_first_seq, stored_ending, stored_pieces, terminal_seq
from app.streaming.sse import encode_event

log = structlog.get_logger("chatstream.cluster")

STOP_CHANNEL = "chatstream:stop"
RECONNECT_AFTER_S = 1.0
CLOSE_TIMEOUT_S = 2.0
# A survivor recovers this many of a dead process's answers at once, looking for this many
# lapsed leases at a time.
RECOVERY_CONCURRENCY = 32
RECOVERY_BATCH = 200

_RECOVERED = ErrorEvent(
    code=ErrorCode.INTERNAL,
    message="The answer was interrupted: the server writing it stopped. Please try again.",
    retryable=True,
)

StopLocal = Callable[[uuid.UUID, StopReason], None]


class StreamCluster:
    def __init__(self, redis: Redis, settings: Settings, *, db: Database) -> None:
        self.redis = redis
        self._db = db
        self._settings = settings
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop_local: StopLocal = lambda _id, _reason: None
        self.log = StreamLog(
            redis,
            owner_token=self.token,
            done_ttl_s=settings.stream_buffer_ttl_s,
            on_lost=self._lost,
            on_ended=self._ended,
        )
        self.leases = StreamLeases(
            redis,
            owner_token=self.token,
            lease_s=settings.stream_owner_lease_s,
            on_lost=self._lost,
        )
        self._loops: list[asyncio.Task[None]] = []
        self._releases: set[asyncio.Future[None]] = set()
        # Answers taken over whose recovery failed: tried again on the next round.
        self._unrecovered: set[uuid.UUID] = set()

    @classmethod
    def connect(cls, settings: Settings, *, db: Database) -> StreamCluster:
        assert settings.redis_url
        # Readers of other processes' answers block on it for up to READ_BLOCK_S.
        redis = connect_redis(settings.redis_url, blocking_read_s=READ_BLOCK_S)
        return cls(redis, settings, db=db)

    def start(self, stop_local: StopLocal) -> None:
        """Begin writing, renewing, listening for stops and recovering; `stop_local` stops an
        answer this process generates."""
        self._stop_local = stop_local
        self.log.start()
        self.leases.start()
        self._loops = [
            asyncio.create_task(self._listen_for_stops(), name="stream-stop-listener"),
            asyncio.create_task(self._recover_forever(), name="stream-recovery"),
        ]

    async def close(self) -> None:
        """After every local answer has ended: stop listening and recovering, let go of the
        answers once their last events are written, then stop writing."""
        for task in self._loops:
            task.cancel()
        pending = [*self._loops, *self._releases]  # the releases run on, with the writer
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_TIMEOUT_S)
        await self.log.close()
        await self.leases.close()
        await self.redis.aclose()

    def _lost(self, message_id: uuid.UUID, reason: StopReason) -> None:
        self._stop_local(message_id, reason)

    def _ended(self, message_id: uuid.UUID) -> None:
        self.leases.forget(message_id)

    # Writing ------------------------------------------------------------------------------------

    def release_when_written(self, message_id: uuid.UUID) -> None:
        """The answer's generation ended: once its terminal event is in the log, let go."""
        if not self.leases.owns(message_id):
            return  # nearly always: the log's terminal write lets go of the lease itself
        task = asyncio.ensure_future(self._release(message_id))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _release(self, message_id: uuid.UUID) -> None:
        try:
            await self.log.flushed(message_id)
            if self.leases.owns(message_id):
                await self.leases.release(message_id)
        except (RedisError, OSError) as exc:  # the lease lapses; recovery finds the log ended
            log.warning("stream_release_failed", error_type=type(exc).__name__)

    # Reading ------------------------------------------------------------------------------------

    def reader(self, message_id: uuid.UUID) -> LogReader:
        return LogReader(self.redis, message_id, self.leases)

    async def last_entry(self, message_id: uuid.UUID) -> tuple[int, bool] | None:
        return await last_entry(self.redis, message_id)

    async def is_live(self, message_id: uuid.UUID) -> bool:
        return await self.leases.is_live(message_id)

    async def wait_for_end(self, message_id: uuid.UUID, timeout_s: float) -> int | None:
        return await wait_for_end(self.redis, message_id, timeout_s)

    # Stopping -----------------------------------------------------------------------------------

    async def stop_elsewhere(self, message_id: uuid.UUID) -> int | None:
        """Ask whichever process writes the answer to stop it; the seq of its terminal event
        once that is in the log (None if it never came: the writer died and was not recovered
        in time)."""
        await self.redis.publish(STOP_CHANNEL, str(message_id))
        # A writer that died is recovered within its lease, plus one look for lapsed leases.
        timeout_s = self.leases.lease_s + 2 * self.leases.renew_interval_s + 2.0
        return await wait_for_end(self.redis, message_id, timeout_s)

    async def _listen_for_stops(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(STOP_CHANNEL)
                while True:
                    # Polled with a timeout of its own: `listen` would hit the socket timeout
                    # whenever no stop came for a while, and miss stops while it reconnects.
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=READ_BLOCK_S
                    )
                    if message is None or message.get("type") != "message":
                        continue
                    raw = message["data"]
                    try:
                        answer = uuid.UUID(raw.decode() if isinstance(raw, bytes) else raw)
                    except ValueError:
                        continue
                    self._stop_local(answer, StopReason.CANCELLED)
            except (RedisError, OSError) as exc:
                log.warning("stop_listener_reconnecting", error_type=type(exc).__name__)
                await asyncio.sleep(RECONNECT_AFTER_S)
            finally:
                await _close_quietly(pubsub)

    # Recovery -----------------------------------------------------------------------------------

    async def recover_unowned(self) -> int:
        """At start-up: answers left `streaming` that no lease covers (their process died and
        Redis lost its data meanwhile) are ended and stored like those of a dead process, so no
        answer stays `streaming` forever. An answer stored by a live process is always leased
        first (claimed before its turn is stored), so none of those is touched."""

        async def recover_if_unowned(message_id: uuid.UUID) -> bool:
            if await self.leases.is_live(message_id):
                return False  # someone holds it, or recovery will once its lease lapses
            await self.leases.claim(message_id)
            return await self._recover_owned(message_id)

        recovered, failure = await _recover_each(
            await turns.unfinished_answers(self._db), recover_if_unowned
        )
        if failure is not None:
            raise failure
        return recovered

    async def _recover_forever(self) -> None:
        try:
            if recovered := await self.recover_unowned():
                log.warning("unowned_answers_recovered", count=recovered)
        except (RedisError, OSError) as exc:
            log.warning("unowned_recovery_skipped", error_type=type(exc).__name__)
        except Exception as exc:  # the database may be down at start: readyz reports it
            log.warning("unowned_recovery_skipped", error_type=type(exc).__name__)
        while True:
            await asyncio.sleep(self.leases.renew_interval_s)
            try:
                await self.recover_lapsed()
            except (RedisError, OSError) as exc:
                log.warning("stream_recovery_skipped", error_type=type(exc).__name__)
            except Exception as exc:  # the database: try again on the next round
                log.error("stream_recovery_failed", error_type=type(exc).__name__)

    async def recover_lapsed(self) -> int:
        """End and store every answer whose writer died; how many this process recovered.

        One this process took over but could not store (the database away) stays its own, its
        lease renewed, and is tried again on the next round, a second later: letting the lease
        lapse again would cost its readers a whole lease more, while no other survivor could
        do better against the same database.
        """

        async def take_over_and_recover(message_id: uuid.UUID) -> bool:
            if not await self.leases.take_over(message_id):
                return False  # another survivor was first
            return await self._recover_owned(message_id)

        # Those whose lease went to another survivor meanwhile are its to recover.
        retries = [m for m in self._unrecovered if self.leases.owns(m)]
        self._unrecovered.intersection_update(retries)
        recovered, failure = await _recover_each(retries, self._recover_owned)
        while True:
            lapsed = await self.leases.lapsed(RECOVERY_BATCH)
            count, failed = await _recover_each(lapsed, take_over_and_recover)
            recovered += count
            failure = failure or failed
            # Each one looked at is taken, or its lease pushed back: the next look finds others.
            if len(lapsed) < RECOVERY_BATCH or failed is not None:
                break
        if failure is not None:
            raise failure
        return recovered

    async def _recover_owned(self, message_id: uuid.UUID) -> bool:
        """Recover an answer whose lease this process holds. If that fails, it keeps the lease,
        renewed, and `recover_lapsed` tries again on its next round."""
        try:
            await self._recover(message_id)
        except BaseException:
            self._unrecovered.add(message_id)
            raise
        self._unrecovered.discard(message_id)
        self.release_when_written(message_id)
        return True

    async def _recover(self, message_id: uuid.UUID) -> None:
        contents = await read_whole_log(self.redis, message_id)
        if contents.ended:  # the writer died after its terminal event: nothing was lost
            return
        stored, saved = await self._store_in_time(
            store_if_unfinished(
                self._db,
                message_id,
                lambda stored: _recovered_record(stored, contents),
            )
        )
        # The terminal event goes past every event the writer's own clients can have been shown
        # (redis_log.py), with the text kept: a client shown more than the log got shows that.
        log_end = contents.last_seq
        ending: StreamEvent
        if stored is not None and not saved:  # stored, then the writer died before its end
            kept = stored_pieces(stored)
            ending = stored_ending(stored, chunk_count=stored.chunk_count or 0)
            seq = terminal_seq(stored)  # no client has more than the stored answer
        else:
            kept = contents.chunks
            ending = _RECOVERED.model_copy(update={"message_id": str(message_id)})
            if stored is not None:
                kept = _whole_chunks(stored, contents)
                if log_end < 0:  # nothing was logged; the writer's clients may have a start
                    log_end = run_first_seq(stored)
                    self._write(message_id, log_end, _start_of(stored))
                    await self.log.flushed(message_id)  # a write holds consecutive events
            seq = log_end + 1 + UNLOGGED_LEAD
        self._write(
            message_id, seq, ending.model_copy(update={"content": "".join(kept)}), terminal=True
        )
        ANSWERS_RECOVERED.inc()
        log.warning(
            "answer_recovered",
            message_id=str(message_id),
            chunk_count=len(contents.chunks),
            stored_status=None if stored is None else stored.status,
        )
        await self.log.flushed(message_id)

    async def _store_in_time(
        self, store: Coroutine[None, None, tuple[Message | None, bool]]
    ) -> tuple[Message | None, bool]:
        """The store's outcome, or TimeoutError after PERSIST_TIMEOUT_S: the answer is then
        tried again on the next round, while its log still holds the text. A unit stuck on a
        database that went away must not hold it until Redis, too, may have lost the log.
        The stuck unit is left to finish or fail on its own (cancelling it could wait on the
        database as well); its write is conditional, so whichever store comes first wins and
        the other finds the answer stored."""
        task = asyncio.ensure_future(store)
        try:
            done, _ = await asyncio.wait({task}, timeout=self._settings.persist_timeout_s)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task not in done:
            task.add_done_callback(_retrieve_outcome)
            raise TimeoutError(f"no answer in {self._settings.persist_timeout_s} s")
        return task.result()

    def _write(
        self, message_id: uuid.UUID, seq: int, event: StreamEvent, *, terminal: bool = False
    ) -> None:
        key = log_key(message_id)
        frame = encode_event(message_id, seq, event)
        self.log.enqueue(key, message_id, seq, frame, starts=isinstance(event, StartEvent))
        if terminal:
            self.log.mark_terminal(key)


def recovered_terminal_seq(stored: Message) -> int:
    """The id under which a survivor wrote the end of an answer it recovered (`_recover`): past
    the lead of its log's last event, which holds the last stored chunk (or the run's start).
    Once the log has expired, a reader resuming from this id has the end already. No other
    reader can hold it: the writer's own were at most the lead past the log."""
    return terminal_seq(stored) + UNLOGGED_LEAD


def _start_of(stored: Message) -> StartEvent:
    """The start event of the answer's latest run (a Continue's says what it continues)."""
    return StartEvent(
        message_id=str(stored.id),
        conversation_id=str(stored.conversation_id),
        user_message_id=str(stored.reply_to_id or stored.id),
        prefix=stored.content if stored.stream_offset else None,
    )


def _whole_chunks(stored: Message, contents: LogContents) -> list[str]:
    """The answer's chunks: a continued run's log holds only its own, after the stored ones;
    with nothing logged, what the database holds is all there is."""
    if contents.last_seq < 0:
        return stored_pieces(stored)
    return [*stored_pieces(stored), *contents.chunks] if stored.stream_offset else contents.chunks


def _recovered_record(stored: Message, contents: LogContents) -> AnswerRecord:
    chunks = _whole_chunks(stored, contents)
    now = utcnow()
    started = (
        stored.created_at if stored.created_at.tzinfo else stored.created_at.replace(tzinfo=UTC)
    )
    return AnswerRecord(
        message_id=stored.id,
        conversation_id=stored.conversation_id,
        user_id=stored.user_id,
        reply_to_id=stored.reply_to_id,
        created_at=stored.created_at,
        content="".join(chunks),
        status=MessageStatus.INTERRUPTED,
        error_code=ErrorCode.INTERNAL,
        model=stored.model,
        chunk_count=len(chunks),
        chunk_ends=list(accumulate(len(chunk) for chunk in chunks)),
        ttft_ms=None,
        duration_ms=max(0, int((now - started).total_seconds() * 1000)),
        completed_at=now,
        only_if_unfinished=True,
    )


async def _recover_each(
    message_ids: list[uuid.UUID], recover: Callable[[uuid.UUID], Awaitable[bool]]
) -> tuple[int, BaseException | None]:
    """Recover the answers RECOVERY_CONCURRENCY at a time: how many were, and the first
    failure (the others go on meanwhile). One by one, a dead process's hundreds of answers took
    a second each behind a busy database, and a reader waited for its terminal event far longer
    than the lease."""
    slots = asyncio.Semaphore(RECOVERY_CONCURRENCY)

    async def one(message_id: uuid.UUID) -> bool:
        async with slots:
            return await recover(message_id)

    outcomes = await asyncio.gather(*map(one, message_ids), return_exceptions=True)
    failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
    return sum(1 for outcome in outcomes if outcome is True), failure


def _retrieve_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # nobody awaits an abandoned store: its failure is not news


async def _close_quietly(pubsub: PubSub) -> None:
    try:
        await asyncio.wait_for(pubsub.aclose(), CLOSE_TIMEOUT_S)  # type: ignore[no-untyped-call]
    except (RedisError, OSError, RuntimeError, TimeoutError):
        pass
