"""A generation: one answer being written by the model, as a task of its own.

It writes events into a StreamBuffer; SSE responses and non-streaming requests are readers.
A generation ends exactly once, with an outcome (complete, cancelled, interrupted, error) that
its finaliser saves before the terminal event is written, so a client that sees `complete`
can read the answer back.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from itertools import accumulate

import structlog

from app.core.keepalive import keepalive_callback
from app.core.queue_position import queue_position_listener
from app.db.models import MessageStatus
from app.streaming.buffer import StreamBuffer
from app.streaming.events import (
    CompleteEvent,
    ErrorCode,
    ErrorEvent,
    OnboardingProgress,
    QueuedEvent,
    StartEvent,
    StreamEvent,
)
from app.streaming.sse import encode_anonymous_event, encode_chunk, encode_event, encode_start

log = structlog.get_logger("chatstream.streaming")

YIELD_EVERY_CHUNKS = 16


class StopReason(StrEnum):
    CANCELLED = "cancelled"
    DISCONNECTED = "disconnected"
    SHUTDOWN = "shutdown"
    # Scaled mode: the stream's log in Redis cannot be written, so no other process can serve
    # the answer; it is stopped and stored rather than generated for this process alone.
    LOG_LOST = "log_lost"
    # Scaled mode: another process took the answer over (this one missed its lease renewals)
    # and has stored it from the log; this process must neither write nor save it any more.
    OWNER_LOST = "owner_lost"


@dataclass(frozen=True, slots=True)
class Ending:
    """How an answer that did not complete is stored and told to its readers."""

    status: MessageStatus
    code: ErrorCode
    message: str
    retryable: bool


# The one table of stopped answers: used as they stop, and when told again from the database.
STOP_ENDINGS: dict[StopReason, Ending] = {
    StopReason.CANCELLED: Ending(
        MessageStatus.CANCELLED, ErrorCode.CANCELLED, "The answer was stopped.", False
    ),
    StopReason.DISCONNECTED: Ending(
        MessageStatus.INTERRUPTED,
        ErrorCode.INTERNAL,
        "The answer was interrupted because the connection was lost.",
        True,
    ),
    StopReason.SHUTDOWN: Ending(
        MessageStatus.INTERRUPTED,
        ErrorCode.INTERNAL,
        "The server is restarting; please try again in a moment.",
        True,
    ),
    StopReason.LOG_LOST: Ending(
        MessageStatus.INTERRUPTED,
        ErrorCode.INTERNAL,
        "The answer was interrupted: the server lost its stream log. Please try again.",
        True,
    ),
    StopReason.OWNER_LOST: Ending(
        MessageStatus.INTERRUPTED,
        ErrorCode.INTERNAL,
        "The answer was interrupted: the server writing it stopped. Please try again.",
        True,
    ),
}


@dataclass(frozen=True, slots=True)
class GenerationOutcome:
    status: MessageStatus
    content: str
    chunk_count: int
    ttft_ms: int | None
    duration_ms: int
    error_code: ErrorCode | None
    error_message: str | None
    finish_reason: str
    retryable: bool
    stop_reason: StopReason | None = None
    # Where each chunk ends in `content` (see Message.chunk_ends).
    chunk_ends: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Continued:
    """A Continue: the answer's stored chunks, which the new run's chunks follow, and the seq of
    its start event (past every event of the earlier runs)."""

    chunks: tuple[str, ...]
    first_seq: int


Finaliser = Callable[[GenerationOutcome], Awaitable[OnboardingProgress | None]]
RemoteReaders = Callable[[uuid.UUID], Awaitable[int]]
"""How many readers other processes have on an answer (scaled mode): they keep it alive too."""


class Generation:
    def __init__(
        self,
        *,
        message_id: uuid.UUID,
        conversation_id: uuid.UUID,
        user_message_id: uuid.UUID,
        chunks: AsyncIterator[str],
        finalise: Finaliser,
        buffer: StreamBuffer,
        idle_timeout_s: float,
        disconnect_grace_s: float,
        remote_readers: RemoteReaders | None = None,
        continued: Continued | None = None,
    ) -> None:
        self.message_id = message_id
        self.conversation_id = conversation_id
        self.buffer = buffer
        self.outcome: GenerationOutcome | None = None
        self.done = asyncio.Event()
        self._chunks = chunks
        self._finalise = finalise
        self._idle_timeout_s = idle_timeout_s
        self._grace_s = disconnect_grace_s
        self._readers = 0
        self._grace_timer: asyncio.TimerHandle | None = None
        self._grace_check: asyncio.Future[None] | None = None
        self._stop_reason: StopReason | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._remote_readers = remote_readers
        self._continued = continued
        # The whole answer: a continued one's stored chunks first, then this run's.
        self._parts: list[str] = list(continued.chunks) if continued else []
        self._ends: list[int] = list(accumulate(map(len, self._parts)))
        self._ttft_ms: int | None = None
        # The answer's place in the model's queue while it waits there (1 = next), else None.
        self.queue_position: int | None = None
        # The log context (user, message, request...) of whoever started it, for callbacks.
        self._context = contextvars.copy_context()
        if continued is None:
            start = encode_start(message_id, buffer.next_seq, conversation_id, user_message_id)
            self.buffer.append(start)
        else:
            self._append(
                StartEvent(
                    message_id=str(message_id),
                    conversation_id=str(conversation_id),
                    user_message_id=str(user_message_id),
                    prefix="".join(self._parts),
                )
            )

    def _append(self, event: StreamEvent) -> None:
        self.buffer.append(encode_event(self.message_id, self.buffer.next_seq, event))

    def _queued(self, position: int | None) -> None:
        """The model's queue moved: readers hear the answer's place, outside the sequence (no
        id), so resuming and replay are as if it had never waited."""
        if position == self.queue_position:
            return
        self.queue_position = position
        self.buffer.announce(
            None
            if position is None
            else encode_anonymous_event(
                QueuedEvent(position=position, message_id=str(self.message_id))
            )
        )

    # Lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"generation-{self.message_id}")
        self._arm_grace_timer()

    async def wait(self) -> GenerationOutcome:
        await self.done.wait()
        assert self.outcome is not None
        return self.outcome

    def stop(self, reason: StopReason) -> bool:
        """Stop the model now; the partial answer is kept. False if it had already ended."""
        if self.done.is_set() or self._stop_reason is not None:
            return False
        self._stop_reason = reason
        if self._consumer is not None:
            self._consumer.cancel()
        return True

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    @property
    def chunk_count(self) -> int:
        return len(self._parts)

    def partial(self) -> tuple[str, list[int]]:
        """The answer so far and where each of its chunks ends (a checkpoint's content)."""
        count = len(self._parts)  # chunks appended meanwhile belong to the next checkpoint
        return "".join(self._parts[:count]), self._ends[:count]

    # Readers -------------------------------------------------------------------------------

    def attach(self) -> None:
        self._readers += 1
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None

    def detach(self) -> None:
        self._readers -= 1
        if self._readers <= 0:
            self._readers = 0
            self._arm_grace_timer()

    def _arm_grace_timer(self) -> None:
        if self.done.is_set() or self._readers > 0 or self._grace_timer is not None:
            return
        # In the generation's context, not the last reader's: its log lines name the user.
        self._grace_timer = asyncio.get_running_loop().call_later(
            self._grace_s, self._grace_expired, context=self._context
        )

    def _grace_expired(self) -> None:
        self._grace_timer = None
        if self._readers > 0 or self.done.is_set():
            return
        if self._remote_readers is None:
            self._abandon()
            return
        # Kept: a task nobody references may be collected before it runs.
        self._grace_check = asyncio.ensure_future(self._count_remote_readers())

    async def _count_remote_readers(self) -> None:
        try:
            remote = await self._remote_readers(self.message_id) if self._remote_readers else 0
        except Exception as exc:  # the count is unknown: keep the answer, as if someone read
            log.warning("remote_readers_unknown", error_type=type(exc).__name__)
            remote = 1
        if self._readers > 0 or self.done.is_set():
            return
        if remote > 0:  # a reader on another process keeps it alive: look again later
            self._arm_grace_timer()
        else:
            self._abandon()

    def _abandon(self) -> None:
        if self.stop(StopReason.DISCONNECTED):
            log.info("stream_abandoned", message_id=str(self.message_id))

    # The run -------------------------------------------------------------------------------

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(self._idle_timeout_s) as idle:

            def still_alive() -> None:  # e.g. the model is waiting for its turn, not stalled
                idle.reschedule(loop.time() + self._idle_timeout_s)

            def moved_in_queue(position: int | None) -> None:  # waiting, and alive
                # Called from the task that moved the queue, where a timeout of this answer
                # already under way must not be touched (it would raise there).
                if not idle.expired():
                    still_alive()
                self._queued(position)

            # Rescheduling a timer costs more than encoding a chunk: move the deadline only
            # when it has drifted by a tenth of the timeout (it then fires 90-100% of the way).
            slack = self._idle_timeout_s / 10
            deadline_base = started
            id_prefix = f"id: {self.message_id}:"
            buffer = self.buffer
            parts, ends = self._parts, self._ends
            length = ends[-1] if ends else 0
            with keepalive_callback(still_alive), queue_position_listener(moved_in_queue):
                index = len(parts)
                async for text in self._chunks:
                    if not text:
                        continue
                    now = loop.time()
                    if now - deadline_base > slack:
                        idle.reschedule(now + self._idle_timeout_s)
                        deadline_base = now
                    if self._ttft_ms is None:
                        self._ttft_ms = int((now - started) * 1000)
                    length += len(text)
                    parts.append(text)
                    ends.append(length)
                    buffer.append(encode_chunk(id_prefix, buffer.next_seq, text, index))
                    index += 1
                    if index % YIELD_EVERY_CHUNKS == 0:
                        # A model that never waits (a fast provider, the scripted model at full
                        # speed) must not starve the other streams of the event loop.
                        await asyncio.sleep(0)

    async def _run(self) -> None:
        started = time.perf_counter()
        error_code: ErrorCode | None = None
        error_message: str | None = None
        retryable = False
        status = MessageStatus.COMPLETE
        stop_reason: StopReason | None = None
        self._consumer = asyncio.create_task(self._consume())
        if self._stop_reason is not None:  # stopped before it began (a Stop sent before start)
            self._consumer.cancel()
        try:
            await self._consumer
        except asyncio.CancelledError:
            stop_reason = self._stop_reason or StopReason.SHUTDOWN
            ending = STOP_ENDINGS[stop_reason]
            status, error_code, retryable = ending.status, ending.code, ending.retryable
            error_message = ending.message
            if self._stop_reason is None:  # cancelled from outside: let that cancellation finish
                self._consumer.cancel()
        except TimeoutError:
            status, error_code, retryable = MessageStatus.ERROR, ErrorCode.TIMEOUT, True
            error_message = "The model stopped responding."
            log.warning(
                "stream_idle_timeout",
                message_id=str(self.message_id),
                error_type="TimeoutError",
                idle_timeout_s=self._idle_timeout_s,
            )
        except Exception as exc:
            status, error_code, retryable = MessageStatus.ERROR, ErrorCode.LLM_ERROR, True
            error_message = "The language model failed while answering. Please try again."
            log.error(
                "llm_error",
                message_id=str(self.message_id),
                error_type=type(exc).__name__,
                error=str(exc)[:500],
            )
        finally:
            if self._grace_timer is not None:
                self._grace_timer.cancel()
                self._grace_timer = None
        self.outcome = GenerationOutcome(
            status=status,
            content="".join(self._parts),
            chunk_count=len(self._parts),
            ttft_ms=self._ttft_ms,
            duration_ms=int((time.perf_counter() - started) * 1000),
            error_code=error_code,
            error_message=error_message,
            finish_reason="stop" if status is MessageStatus.COMPLETE else str(status),
            retryable=retryable,
            stop_reason=stop_reason,
            chunk_ends=tuple(self._ends),
        )
        # Shielded: a shutdown that cancels this task must not lose the save.
        finalise = asyncio.ensure_future(self._finalise(self.outcome))
        try:
            progress = await asyncio.shield(finalise)
        except asyncio.CancelledError:
            progress = await finalise
        except Exception as exc:
            log.error(
                "finalise_failed",
                message_id=str(self.message_id),
                error_type=type(exc).__name__,
                error=str(exc)[:300],
            )
            progress = None
        if error_code is None:
            self._append(
                CompleteEvent(
                    message_id=str(self.message_id),
                    conversation_id=str(self.conversation_id),
                    chunks=self.outcome.chunk_count,
                    finish_reason=self.outcome.finish_reason,
                    onboarding=progress,
                    content=self.outcome.content if self._continued is not None else None,
                )
            )
        else:
            self._append(
                ErrorEvent(
                    code=error_code,
                    message=error_message or "",
                    retryable=retryable,
                    message_id=str(self.message_id),
                )
            )
        self.buffer.close()
        self.done.set()
