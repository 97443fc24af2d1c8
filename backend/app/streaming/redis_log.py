"""The stream log (scaled mode): every answer's frames in a Redis Stream of its own.

The generating process appends each frame to a `LoggedBuffer`, and `StreamLog` writes it to the
answer's Redis Stream, batched: one script call per few milliseconds for every frame of every
answer of this process, never a round trip per chunk. The process's own readers read the frames
from memory as in the embedded mode (the fast path), without waiting for the write, but at most
`UNLOGGED_LEAD` events ahead of what the log holds. Should this process die, a survivor ends
the log with its terminal event that far past the last logged one (after a `start` of its own
if nothing was logged), carrying the text it stored: a client that was shown frames the log
never got still receives the end, under an id past its own, and shows the kept text (as the
embedded mode's replay does after a crash between two checkpoints).

Any process reads the log with `LogReader`; an entry's id is `0-<seq + 1>`, so a reader resumes
after any event with one XREAD, and the terminal entry carries `t`, so a reader knows the end
without parsing frames.

Writes are fenced: the script appends an answer's frames only while this process owns the
answer (`chatstream:owners`, see leases.py). A process that lost an answer to a survivor
(it missed its lease renewals) can never write into a log the survivor has ended.

Each log is capped (`MAX_EVENTS`) and expires `STREAM_BUFFER_TTL_S` after its terminal entry
(a day while in flight, should every process die); its memory grows with the answer's frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.metrics import (
    STREAM_LOG_FAILURES,
    STREAM_LOG_FRAMES,
    STREAM_LOG_LAG,
    STREAM_LOG_ROUND_TRIPS,
)
from app.core.redis_calls import Arg, ScriptConnection
from app.streaming.buffer import InMemoryStreamBuffer
from app.streaming.events import ErrorCode, ErrorEvent
from app.streaming.generation import StopReason
from app.streaming.sse import encode_anonymous_event

log = structlog.get_logger("chatstream.streaming")

OWNERS_KEY = "chatstream:owners"
LIVE_KEY = "chatstream:live"
MAX_EVENTS = 100_000
IN_FLIGHT_TTL_S = 86_400
# The least time between the starts of two writes. A frame that comes after a quiet spell is
# written at the next loop tick; under load the frames of this long go in one write. This
# process's readers do not wait for it; readers elsewhere do, and a kill -9 loses about this
# much of each answer. At 5 ms the writes took 11% of the server's CPU in `make bench` (e),
# 200 paced answers: about 250 µs each on a slow machine.
FLUSH_INTERVAL_S = 0.010
# How many events past the log's last one this process's readers may have been shown. Paced
# answers are one or two ahead between writes; a burst beyond this waits for the log. A
# survivor puts the terminal event of a dead writer's answer this far past its log's end.
UNLOGGED_LEAD = 64
# A remote reader blocks at most this long per read, to renew its presence (leases.py).
READ_BLOCK_S = 1.0
READ_COUNT = 1024
CLOSE_TIMEOUT_S = 5.0

LogLost = Callable[[uuid.UUID, StopReason], None]
"""Told of an answer whose frames could not be written: the log is down, or it is not ours."""


def log_key(message_id: uuid.UUID | str) -> str:
    return f"chatstream:log:{message_id}"


def entry_id(seq: int) -> str:
    """The Redis Stream id of event `seq` (ids must be above 0-0)."""
    return f"0-{seq + 1}"


def entry_seq(raw_id: bytes | str) -> int:
    text = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
    return int(text.partition("-")[2]) - 1


# KEYS[1]: the owners hash, KEYS[2]: the live set, KEYS[3..]: one log per answer in the batch.
# ARGV: owner token, cap, TTL in flight, TTL once ended; the runs: per log, in KEYS' order, "<seq
# of its first frame in the batch> <frame count> <flags>" ('s' the first frame starts a run, 't'
# the last one ends it, '-' neither), separated by spaces; and every frame of the batch, in the
# same order, joined. A frame is one SSE event, which ends at its only blank line, so the frames
# are told apart without lengths (and the write is refused whole, before anything is stored, if
# they do not add up to the runs): a write is a handful of arguments whatever its frames, where an
# argument per frame cost this process a copy, an allocation and a formatted length each while
# packing. Entry ids follow from the seqs and the answer id from the key. An answer's end also
# lets go of its lease. Returns the ids of answers this process does not own (fenced: nothing
# of theirs was written).
_APPEND_SCRIPT = """
local token, cap, live_ttl, done_ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local runs, joined = ARGV[5], ARGV[6]
local frames = {}
local at = 1
while at <= #joined do
  local blank = string.find(joined, '\\n\\n', at, true)
  if not blank then return redis.error_reply('ERR a frame does not end with a blank line') end
  frames[#frames + 1] = string.sub(joined, at, blank + 1)
  at = blank + 2
end
local runs_count, frames_count = 0, 0
for count in string.gmatch(runs, '%d+ (%d+) %S+') do
  runs_count, frames_count = runs_count + 1, frames_count + tonumber(count)
end
if runs_count ~= #KEYS - 2 or frames_count ~= #frames then
  return redis.error_reply('ERR the runs do not match the logs and frames of the write')
end
local skip = string.len('chatstream:log:')
local i, n, fenced = 3, 0, {}
for first, count, flags in string.gmatch(runs, '(%d+) (%d+) (%S+)') do
  local log = KEYS[i]
  local answer = string.sub(log, skip + 1)
  first, count = tonumber(first), tonumber(count)
  local ends = string.find(flags, 't', 1, true)
  i = i + 1
  if redis.call('HGET', KEYS[1], answer) == token then
    local last = count - 1
    for j = 0, last do
      local id = '0-' .. string.format('%d', first + j + 1)
      if ends and j == last then
        redis.pcall('XADD', log, 'MAXLEN', '~', cap, id, 'f', frames[n + j + 1], 't', '1')
      else
        redis.pcall('XADD', log, 'MAXLEN', '~', cap, id, 'f', frames[n + j + 1])
      end
    end
    if ends then
      redis.call('EXPIRE', log, done_ttl)
      redis.call('HDEL', KEYS[1], answer)
      redis.call('ZREM', KEYS[2], answer)
    elseif string.find(flags, 's', 1, true) then
      redis.call('EXPIRE', log, live_ttl)
    end
  else
    table.insert(fenced, answer)
  end
  n = n + count
end
return fenced
"""


class _Pending:
    """One answer's frames queued one by one (a survivor's recovery writes, which nobody here
    reads from memory), waiting for the next write: consecutive seqs from `first_seq`."""

    __slots__ = ("message_id", "first_seq", "frames", "starts", "ends")

    def __init__(self, message_id: uuid.UUID, first_seq: int, starts: bool) -> None:
        self.message_id = message_id
        self.first_seq = first_seq
        self.frames: list[bytes] = []
        self.starts = starts  # the first frame is a run's start event
        self.ends = False  # the last frame is the terminal event

    @property
    def flags(self) -> str:
        return _flags(self.starts, self.ends)


def _flags(starts: bool, ends: bool) -> str:
    """The script's flags for a log's frames in one write."""
    return ("s" if starts else "") + ("t" if ends else "") or "-"


@dataclass(slots=True)
class _Batch:
    answers: dict[str, _Pending] = field(default_factory=dict)  # by log key
    # This process's buffers with frames the log does not have yet, by log key. Their frames
    # are taken from the buffer when the batch is written: a frame costs no queueing of its own.
    buffers: dict[str, LoggedBuffer] = field(default_factory=dict)
    since: float = 0.0  # when its first frame was queued
    written: asyncio.Future[None] | None = None

    def __bool__(self) -> bool:
        return bool(self.answers) or bool(self.buffers)

    def __contains__(self, key: str) -> bool:
        return key in self.buffers or key in self.answers


AnswerEnded = Callable[[uuid.UUID], None]


class StreamLog:
    """This process's writer of stream logs: frames queued by buffers, written in batches."""

    def __init__(
        self,
        redis: Redis,
        *,
        owner_token: str,
        done_ttl_s: float,
        on_lost: LogLost,
        on_ended: AnswerEnded = lambda _: None,
        flush_interval_s: float = FLUSH_INTERVAL_S,
    ) -> None:
        self._redis = redis
        self._token = owner_token
        self._done_ttl_s = max(1, int(done_ttl_s + 0.999))
        self._on_lost = on_lost
        # The terminal write lets go of the lease: the process stops renewing it from here.
        self._on_ended = on_ended
        self._flush_interval_s = flush_interval_s
        self._append = ScriptConnection(redis, _APPEND_SCRIPT)
        self._pending = _Batch()
        self._in_flight: _Batch | None = None
        # Logs whose frames could not be written: nothing more is written to them.
        self._broken: dict[str, uuid.UUID] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.round_trips = 0
        self.frames_written = 0
        # What the metrics were last told of (round trips, frames), and when.
        self._published = (0, 0)
        self._published_at = 0.0

    def buffer(self, message_id: uuid.UUID, first_seq: int = 0) -> LoggedBuffer:
        return LoggedBuffer(self, message_id, first_seq)

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_forever(), name="stream-log-writer")

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        if not self._task.done():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    while self._pending or self._in_flight is not None:
                        batch = self._pending if self._pending else self._in_flight
                        await self._wait_written(batch)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        await self._append.close()

    # Queueing (on the hot path: no awaiting) ----------------------------------------------------

    def note(self, key: str, buffer: LoggedBuffer) -> None:
        """The buffer has frames its log (`key`) does not: the next write takes them. Called
        once per write at most: the buffer knows it is noted until the write takes its frames."""
        batch = self._pending
        if not batch.buffers and not batch.answers:  # the batch's first frame
            batch.since = time.monotonic()
            self._wake.set()
        batch.buffers[key] = buffer

    def enqueue(
        self, key: str, message_id: uuid.UUID, seq: int, frame: bytes, *, starts: bool = False
    ) -> None:
        """Queue frame `seq` of the answer whose log is `key` (see `log_key`), for an answer no
        buffer of this process holds (a survivor ending a dead writer's log)."""
        if key in self._broken:  # frames after a lost write would leave a hole in the log
            return
        batch = self._pending
        pending = batch.answers.get(key)
        if pending is None:
            if not batch:
                batch.since = time.monotonic()
                self._wake.set()
            pending = batch.answers[key] = _Pending(message_id, seq, starts)
        elif seq != pending.first_seq + len(pending.frames):  # entry ids follow from the first
            raise ValueError(f"frame {seq} does not follow the queued ones of {key}")
        pending.frames.append(frame)

    def mark_terminal(self, key: str) -> None:
        """The last frame queued by `enqueue` is the answer's terminal event."""
        broken = self._broken.pop(key, None)
        if broken is not None:
            self._on_ended(broken)
            return
        pending = self._pending.answers.get(key)
        if pending is None:  # cannot happen: the terminal event is queued right before
            log.error("stream_log_terminal_unqueued", key=key)
            return
        pending.ends = True
        self._on_ended(pending.message_id)

    def buffer_ended(self, key: str, message_id: uuid.UUID) -> None:
        """A buffer's last frame is its answer's terminal event (its write ends the log and
        lets go of the lease). A log whose writes failed stops where they did: once its lease
        lapses, a survivor ends it as the database holds it."""
        self._broken.pop(key, None)
        self._on_ended(message_id)

    async def flushed(self, message_id: uuid.UUID) -> None:
        """Wait until every frame queued for the answer so far is written (or failed)."""
        key = log_key(message_id)
        if key in self._pending:
            await self._wait_written(self._pending)
        elif self._in_flight is not None and key in self._in_flight:
            await self._wait_written(self._in_flight)

    async def _wait_written(self, batch: _Batch | None) -> None:
        if batch is None:
            return
        if batch.written is None:
            batch.written = asyncio.get_running_loop().create_future()
        await asyncio.shield(batch.written)

    # Writing ----------------------------------------------------------------------------------

    async def _write_forever(self) -> None:
        loop = asyncio.get_running_loop()
        last_write = -self._flush_interval_s
        while True:
            await self._wake.wait()
            # Let the other frames of this tick, or of the rest of the interval, join the batch.
            await asyncio.sleep(max(0.0, last_write + self._flush_interval_s - loop.time()))
            last_write = loop.time()
            self._wake.clear()
            batch, self._pending = self._pending, _Batch()
            self._in_flight = batch
            try:
                await self._write(batch)
            finally:
                self._in_flight = None
                if batch.written is not None and not batch.written.done():
                    batch.written.set_result(None)

    async def _write(self, batch: _Batch) -> None:
        keys: list[str] = [OWNERS_KEY, LIVE_KEY]
        runs: list[str] = []
        frames: list[bytes] = []
        for key, pending in batch.answers.items():
            keys.append(key)
            runs.append(f"{pending.first_seq} {len(pending.frames)} {pending.flags}")
            frames += pending.frames
        # Taken now, before the first await: frames appended from here go in the next write.
        for key, buffer in batch.buffers.items():
            keys.append(key)
            runs.append(buffer.take_unlogged(frames))
        count = len(frames)
        args: list[Arg] = [
            self._token,
            MAX_EVENTS,
            IN_FLIGHT_TTL_S,
            self._done_ttl_s,
            " ".join(runs),
            b"".join(frames),
        ]
        try:
            fenced = await self._append.call(keys, args)
        except Exception as exc:  # Redis away, or anything else: these answers cannot go on
            STREAM_LOG_FAILURES.inc()
            log.error("stream_log_write_failed", error_type=type(exc).__name__, frames=count)
            lost_ids = [pending.message_id for pending in batch.answers.values()]
            lost_ids += [buffer.message_id for buffer in batch.buffers.values()]
            for key, pending in batch.answers.items():
                self._break(key, pending.message_id, ended=pending.ends)
            for key, buffer in batch.buffers.items():
                self._break_buffer(key, buffer)
            for message_id in lost_ids:
                self._on_lost(message_id, StopReason.LOG_LOST)
            return
        self.round_trips += 1
        self.frames_written += count
        STREAM_LOG_LAG.observe(time.monotonic() - batch.since)  # its oldest frame's wait
        self._publish_counts()
        if not fenced:  # nearly always: every answer here is still this process's
            for buffer in batch.buffers.values():
                buffer.logged_through()
            return
        lost: list[uuid.UUID] = []
        for raw in fenced:
            key = log_key(raw.decode() if isinstance(raw, bytes) else raw)
            queued = batch.answers.get(key)
            if queued is not None:
                self._break(key, queued.message_id, ended=queued.ends)
                lost.append(queued.message_id)
            elif (fenced_buffer := batch.buffers.get(key)) is not None:
                self._break_buffer(key, fenced_buffer)
                lost.append(fenced_buffer.message_id)
        for buffer in batch.buffers.values():
            if buffer.logging:  # not fenced just now
                buffer.logged_through()
        for message_id in lost:
            self._on_lost(message_id, StopReason.OWNER_LOST)

    def _publish_counts(self) -> None:
        """Add the writes and frames since the last time to the metrics: at most once a second
        while writes follow each other, and once the writer has nothing more to write, so
        /metrics is never more than a second behind. (A multiprocess metric's update takes a
        lock and writes to a file mapping: the two counts and the lag were an eighth of a
        write's cost.)"""
        now = time.monotonic()
        if self._pending and now - self._published_at < 1.0:
            return
        self._published_at = now
        STREAM_LOG_ROUND_TRIPS.inc(self.round_trips - self._published[0])
        STREAM_LOG_FRAMES.inc(self.frames_written - self._published[1])
        self._published = (self.round_trips, self.frames_written)

    def _break(self, key: str, message_id: uuid.UUID, *, ended: bool) -> None:
        """Write nothing more to a log of frames queued one by one (see `_break_buffer`)."""
        if ended:  # the run ended in this batch (a later Continue starts a fresh log)
            return
        queued = self._pending.answers.pop(key, None)  # written after this, they leave a hole
        if queued is not None and queued.ends:  # its end is queued already: nothing more comes
            return
        self._broken[key] = message_id  # until its end is queued (mark_terminal)

    def _break_buffer(self, key: str, buffer: LoggedBuffer) -> None:
        """Write nothing more to the answer's log: its frames here were not written (Redis
        failed), or must not be (another process owns the answer now). Its readers here see
        every frame from now on, its end included; a reader elsewhere sees the log's end."""
        buffer.stop_logging()
        self._pending.buffers.pop(key, None)  # written after this, they would leave a hole
        if not buffer.closed:
            self._broken[key] = buffer.message_id  # until its end is appended (buffer_ended)


class LoggedBuffer(InMemoryStreamBuffer):
    """A stream buffer whose frames also go to the answer's log, for readers anywhere.

    A frame costs the log one check: the first frame after a write notes the buffer with the
    writer, which takes every frame since then when it writes.
    """

    __slots__ = ("_log", "message_id", "_key", "_noted", "_queued", "_show_limit")

    def __init__(self, stream_log: StreamLog, message_id: uuid.UUID, first_seq: int = 0) -> None:
        super().__init__(first_seq)
        self._log = stream_log
        self.message_id = message_id
        self._key = log_key(message_id)
        # Its frames are in the writer's next write already; always, once it stops logging.
        self._noted = False
        # How many of the frames (from the first) were handed to writes.
        self._queued = 0
        # How many frames readers may have: those within the lead of the log's end (all of them
        # once it stops logging).
        self._show_limit = UNLOGGED_LEAD

    def append(self, frame: bytes) -> int:
        # InMemoryStreamBuffer.append with the log's part inlined: this runs for every frame.
        if self._closed:
            raise RuntimeError("append to a closed stream buffer")
        frames = self._frames
        frames.append(frame)
        count = len(frames)
        if not self._noted:
            self._noted = True
            self._log.note(self._key, self)
        if count <= self._show_limit and not self._flush_due:
            if self._waiting:  # before the loop looks for I/O again: no added latency
                self._flush_due = True
                asyncio.get_running_loop().call_soon(self._flush)
            else:  # readers not waiting read it when they run
                self._shown = count
        return self._first_seq + count - 1

    def _flush(self) -> None:
        self._flush_due = False
        self._show(min(len(self._frames), self._show_limit))

    @property
    def logging(self) -> bool:
        return self._show_limit != sys.maxsize

    def take_unlogged(self, frames: list[bytes]) -> str:
        """Hand the frames since the last write to a write now: added to `frames`. Returns
        their run as the script reads it: the seq of the first, the count, the flags (a run's
        start first, its terminal event last)."""
        first = self._queued
        own = self._frames
        count = self._queued = len(own)
        self._noted = False
        frames += own[first:]
        return f"{self._first_seq + first} {count - first} {_flags(first == 0, self._closed)}"

    def logged_through(self) -> None:
        """The log holds every frame handed to a write so far."""
        limit = self._show_limit = self._queued + UNLOGGED_LEAD
        count = len(self._frames)
        if self._shown < count:  # frames held back: the log caught up with them
            self._show(min(count, limit))

    def stop_logging(self) -> None:
        """The log takes nothing more of this answer: show every frame, now and from now on."""
        self._noted = True
        self._show_limit = sys.maxsize
        self._show(len(self._frames))

    def close(self) -> None:
        self._log.buffer_ended(self._key, self.message_id)
        super().close()


# Reading --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogContents:
    """An answer's log, read whole: what a survivor stores when the writer died."""

    last_seq: int  # -1 when empty
    ended: bool
    has_start: bool
    chunks: list[str]


def _event_data(frame: bytes) -> dict[str, object]:
    for line in frame.split(b"\n"):
        if line.startswith(b"data: "):
            data = json.loads(line[6:])
            if isinstance(data, dict):
                return data
    return {}


# A log's entries as redis-py returns them (its stubs type stream replies loosely).
_Entries = list[tuple[bytes, dict[bytes, bytes]]]


async def _read_after(redis: Redis, key: str, after: str | bytes, block_ms: int) -> _Entries:
    """Entries after `after`, waiting up to `block_ms` for the first."""
    found = cast(
        list[tuple[bytes, _Entries]], await redis.xread({key: after}, READ_COUNT, block_ms)
    )
    return found[0][1] if found else []


async def read_whole_log(redis: Redis, message_id: uuid.UUID) -> LogContents:
    entries = cast(_Entries, await redis.xrange(log_key(message_id)))
    chunks: list[str] = []
    has_start = ended = False
    last_seq = -1
    for raw_id, fields in entries:
        last_seq = entry_seq(raw_id)
        ended = ended or b"t" in fields
        data = _event_data(fields[b"f"])
        if data.get("type") == "chunk":
            chunks.append(str(data.get("content", "")))
        elif data.get("type") == "start":
            has_start = True
    return LogContents(last_seq=last_seq, ended=ended, has_start=has_start, chunks=chunks)


async def last_entry(redis: Redis, message_id: uuid.UUID) -> tuple[int, bool] | None:
    """The seq of the log's last event and whether it is terminal; None if there is no log."""
    entries = cast(_Entries, await redis.xrevrange(log_key(message_id), count=1))
    if not entries:
        return None
    raw_id, fields = entries[0]
    return entry_seq(raw_id), b"t" in fields


async def wait_for_end(redis: Redis, message_id: uuid.UUID, timeout_s: float) -> int | None:
    """Wait until the log has its terminal event: its seq, or None after `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last = await last_entry(redis, message_id)
    if last is not None and last[1]:
        return last[0]
    after = entry_id(last[0]) if last is not None else "0-0"
    key = log_key(message_id)
    while (remaining := deadline - loop.time()) > 0:
        block_ms = max(1, int(min(remaining, READ_BLOCK_S) * 1000))
        for raw_id, fields in await _read_after(redis, key, after, block_ms):
            after = raw_id.decode()
            if b"t" in fields:
                return entry_seq(raw_id)
    return None


class ReaderPresence(Protocol):
    """Where remote readers say they are reading an answer (leases.py)."""

    async def mark(self, message_id: uuid.UUID, reader_id: str) -> None: ...

    async def unmark(self, message_id: uuid.UUID, reader_id: str) -> None: ...


class LogReader:
    """An answer read from its log, from any process: a FrameSource for the SSE response.

    While it reads, it marks itself present (`presence`, every READ_BLOCK_S), so the writing
    process counts it among the answer's readers for the disconnect grace window.
    """

    def __init__(
        self, redis: Redis, message_id: uuid.UUID, presence: ReaderPresence | None = None
    ) -> None:
        self._redis = redis
        self._message_id = message_id
        self._presence = presence

    async def read(self, after_seq: int, idle_s: float) -> AsyncIterator[bytes | None]:
        loop = asyncio.get_running_loop()
        key = log_key(self._message_id)
        after: str | bytes = entry_id(after_seq) if after_seq >= 0 else "0-0"
        reader_id = uuid.uuid4().hex
        quiet_since = loop.time()
        marked_at = -READ_BLOCK_S
        try:
            while True:
                if self._presence is not None and loop.time() - marked_at >= READ_BLOCK_S:
                    marked_at = loop.time()
                    await _quietly(self._presence.mark(self._message_id, reader_id))
                block_s = min(READ_BLOCK_S, max(0.001, idle_s - (loop.time() - quiet_since)))
                entries = await _read_after(self._redis, key, after, int(block_s * 1000))
                if entries:
                    after = entries[-1][0]
                    quiet_since = loop.time()
                    yield b"".join(fields[b"f"] for _, fields in entries)
                    if b"t" in entries[-1][1]:
                        return
                elif loop.time() - quiet_since >= idle_s:
                    # A reader resuming past the last event (a bogus id) waits only while the
                    # answer runs: once its log has ended, or is gone, there is nothing to wait for.
                    last = await last_entry(self._redis, self._message_id)
                    if last is None or last[1]:
                        return
                    quiet_since = loop.time()
                    yield None
        except (RedisError, OSError) as exc:
            log.error("stream_log_read_failed", error_type=type(exc).__name__)
            yield encode_anonymous_event(
                ErrorEvent(
                    code=ErrorCode.INTERNAL,
                    message="The connection to this answer was lost. Please try again.",
                    retryable=True,
                    message_id=str(self._message_id),
                )
            )
        finally:
            if self._presence is not None:
                gone = self._presence.unmark(self._message_id, reader_id)
                await asyncio.shield(_quietly(gone))


async def _quietly(call: Awaitable[None]) -> None:
    """Await a best-effort call (presence marks): a failure there must not end a stream."""
    try:
        await call
    except (RedisError, OSError):
        pass
