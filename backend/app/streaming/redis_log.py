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
from dataclasses import dataclass
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
# process's readers do not wait for it; readers elsewhere do (a model's tokens come 20-50 ms
# apart), and a kill -9 loses up to this much of each answer (its readers are then shown the
# end with the text kept, see above). What a write costs is mostly its wake-ups, whatever it
# holds: a `send` that wakes an idle Redis cost this process 40 µs of CPU on a virtual machine,
# against 10 µs for one within a millisecond of the last. In `make bench` (e), 200 paced
# answers, the Redis mode took 0.88-0.89 of the in-memory mode's events per CPU-second with
# writes 10 ms apart, 0.91-0.94 at 20 ms (bench/README.md).
FLUSH_INTERVAL_S = 0.020
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


# KEYS[1]: the owners hash, KEYS[2]: the live set. ARGV: owner token, cap, TTL in flight, TTL
# once ended; the answers whose run starts in this write, those whose run ends in it (its last
# frame here is the terminal event) and those to leave out (this process stopped logging them
# after their frames were queued), each separated by spaces; and every frame of the write, in
# the order they were appended, joined. A frame is one SSE event: `id: <answer>:<seq>`, one
# line of data, a blank line. Each frame names its log and its entry (`0-<seq + 1>`) itself,
# so the process sends nothing per frame or per answer but the frames: a write is eight
# arguments whatever it holds. (The logs are not declared in KEYS: a stream log lives with the
# owners hash and the live set on one Redis server, never a cluster.) The whole write is
# checked before anything is stored: frames that do not split into whole events with ids (one
# without its blank line would run into the next, and shift it into the wrong entry or the
# wrong log) are refused. An answer's end also lets go of its lease. Returns how many frames
# were written, and the answers this process does not own (fenced: nothing of theirs was).
_APPEND_SCRIPT = """
local token, cap, live_ttl, done_ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local joined = ARGV[8]
local answers, seqs, frames = {}, {}, {}
local at, n = 1, 0
while at <= #joined do
  local answer, seq = string.match(joined, '^id: ([%x%-]+):(%d+)\\n', at)
  local blank = string.find(joined, '\\n\\n', at, true)
  if not answer or not blank then
    return redis.error_reply('ERR a frame is not one event with an id')
  end
  local frame = string.sub(joined, at, blank + 1)
  if string.find(frame, '\\nid: ', 1, true) then
    return redis.error_reply('ERR a frame is not one event with an id')
  end
  n = n + 1
  answers[n], seqs[n], frames[n] = answer, tonumber(seq), frame
  at = blank + 2
end
local function set_of(list)
  local set = {}
  for answer in string.gmatch(list, '%S+') do set[answer] = true end
  return set
end
local skip, ends = set_of(ARGV[7]), set_of(ARGV[6])
local last = {}
for i = 1, n do last[answers[i]] = i end
local owned, fenced, written = {}, {}, 0
local function owns(answer)
  local mine = owned[answer]
  if mine == nil then
    mine = redis.call('HGET', KEYS[1], answer) == token
    owned[answer] = mine
    if not mine then fenced[#fenced + 1] = answer end
  end
  return mine
end
for i = 1, n do
  local answer = answers[i]
  if not skip[answer] and owns(answer) then
    local log = 'chatstream:log:' .. answer
    local id = '0-' .. string.format('%d', seqs[i] + 1)
    written = written + 1
    if ends[answer] and last[answer] == i then
      redis.pcall('XADD', log, 'MAXLEN', '~', cap, id, 'f', frames[i], 't', '1')
    else
      redis.pcall('XADD', log, 'MAXLEN', '~', cap, id, 'f', frames[i])
    end
  end
end
for answer in string.gmatch(ARGV[5], '%S+') do
  if not skip[answer] and not ends[answer] and owns(answer) then
    redis.call('EXPIRE', 'chatstream:log:' .. answer, live_ttl)
  end
end
for answer in pairs(ends) do
  if not skip[answer] and owns(answer) then
    redis.call('EXPIRE', 'chatstream:log:' .. answer, done_ttl)
    redis.call('HDEL', KEYS[1], answer)
    redis.call('ZREM', KEYS[2], answer)
  end
end
return {written, fenced}
"""


class _Batch:
    """What the next write takes: the frames appended since the last one, in order, and which
    answers start, end or are left out in it. Batches are numbered in the order they are
    written, one at a time: a buffer's frames are in at most two unwritten batches (the one in
    flight and this one), and once batch `n` is written, so are all of its frames."""

    __slots__ = ("number", "frames", "starts", "ends", "skip", "queued", "since", "written")

    def __init__(self, number: int) -> None:
        self.number = number
        self.frames: list[bytes] = []
        self.starts: list[str] = []
        self.ends: list[str] = []
        self.skip: list[str] = []
        # Answers whose frames were queued one by one (a survivor's recovery writes, which no
        # buffer here holds): the message id and the seq the next frame must have.
        self.queued: dict[str, tuple[uuid.UUID, int]] = {}
        self.since = 0.0  # when its first frame (or end) was queued; 0 while it has none
        self.written: asyncio.Future[None] | None = None

    def __bool__(self) -> bool:
        return self.since != 0.0


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
        self.pending = _Batch(0)
        self._in_flight: _Batch | None = None
        # The number of the last batch written (every earlier one was written, or failed).
        self.written_number = -1
        # The buffers logging here, by answer id, until the write of their end: a write's
        # failure or fencing reaches them through it.
        self._buffers: dict[str, LoggedBuffer] = {}
        # Buffers whose readers wait for the log to catch up (UNLOGGED_LEAD), told after a write.
        self._held: set[LoggedBuffer] = set()
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
        buffer = LoggedBuffer(self, message_id, first_seq)
        self._buffers[buffer.answer] = buffer
        return buffer

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_forever(), name="stream-log-writer")

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        if not self._task.done():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    while self.pending or self._in_flight is not None:
                        batch = self.pending if self.pending else self._in_flight
                        await self._wait_written(batch)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        await self._append.close()

    # Queueing (on the hot path: no awaiting) ----------------------------------------------------

    def first_of_batch(self, batch: _Batch) -> None:
        """The batch's first frame or end is queued: the writer writes it within an interval."""
        batch.since = time.monotonic()
        self._wake.set()

    def hold(self, buffer: LoggedBuffer) -> None:
        """The buffer holds frames back from its readers until the log has more of it."""
        self._held.add(buffer)

    def enqueue(
        self, key: str, message_id: uuid.UUID, seq: int, frame: bytes, *, starts: bool = False
    ) -> None:
        """Queue frame `seq` of the answer whose log is `key` (see `log_key`), for an answer no
        buffer of this process holds (a survivor ending a dead writer's log)."""
        if key in self._broken:  # frames after a lost write would leave a hole in the log
            return
        batch = self.pending
        answer = str(message_id)
        queued = batch.queued.get(answer)
        if queued is not None and seq != queued[1]:  # a write holds consecutive events
            raise ValueError(f"frame {seq} does not follow the queued ones of {key}")
        if not batch.since:
            self.first_of_batch(batch)
        batch.queued[answer] = (message_id, seq + 1)
        if starts:
            batch.starts.append(answer)
        batch.frames.append(frame)

    def mark_terminal(self, key: str) -> None:
        """The last frame queued by `enqueue` is the answer's terminal event."""
        broken = self._broken.pop(key, None)
        if broken is not None:
            self._on_ended(broken)
            return
        answer = key.removeprefix(log_key(""))
        queued = self.pending.queued.get(answer)
        if queued is None:  # cannot happen: the terminal event is queued right before
            log.error("stream_log_terminal_unqueued", key=key)
            return
        self.pending.ends.append(answer)
        self._on_ended(queued[0])

    def buffer_ended(self, buffer: LoggedBuffer) -> None:
        """A buffer's last frame is its answer's terminal event (its write ends the log and
        lets go of the lease): a buffer is closed in the step that appends it. A log whose
        writes failed stops where they did: once its lease lapses, a survivor ends it as the
        database holds it (so does one closed without a frame since the last write, which
        would leave no entry to mark as its end)."""
        if buffer.has_frames_in(self.pending.number):
            self.pending.ends.append(buffer.answer)
        self._broken.pop(log_key(buffer.answer), None)
        self._on_ended(buffer.message_id)

    async def flushed(self, message_id: uuid.UUID) -> None:
        """Wait until every frame queued for the answer so far is written (or failed)."""
        answer = str(message_id)
        buffer = self._buffers.get(answer)
        for batch in (self.pending, self._in_flight):  # the later one first
            if batch is None:
                continue
            if (
                answer in batch.queued
                or answer in batch.ends
                or (buffer is not None and buffer.has_frames_in(batch.number))
            ):
                await self._wait_written(batch)
                return

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
            batch = self.pending
            self.pending = _Batch(batch.number + 1)
            self._in_flight = batch
            try:
                await self._write(batch)
            finally:
                self._in_flight = None
                if batch.written is not None and not batch.written.done():
                    batch.written.set_result(None)

    async def _write(self, batch: _Batch) -> None:
        args: list[Arg] = [
            self._token,
            MAX_EVENTS,
            IN_FLIGHT_TTL_S,
            self._done_ttl_s,
            " ".join(batch.starts),
            " ".join(batch.ends),
            " ".join(batch.skip),
            b"".join(batch.frames),
        ]
        try:
            written, fenced = await self._append.call([OWNERS_KEY, LIVE_KEY], args)
        except Exception as exc:  # Redis away, or anything else: these answers cannot go on
            STREAM_LOG_FAILURES.inc()
            frames = len(batch.frames)
            log.error("stream_log_write_failed", error_type=type(exc).__name__, frames=frames)
            self._lose(batch, self._answers_in(batch), StopReason.LOG_LOST)
            return
        self.written_number = batch.number
        self.round_trips += 1
        self.frames_written += written
        STREAM_LOG_LAG.observe(time.monotonic() - batch.since)  # its oldest frame's wait
        self._publish_counts()
        for answer in batch.ends:  # its end is written: nothing more of it comes
            ended = self._buffers.get(answer)
            if ended is not None and ended.closed and not ended.has_frames_after(batch.number):
                del self._buffers[answer]
        if self._held:
            held, self._held = self._held, set()
            for buffer in held:
                buffer.logged_through()
        if fenced:  # rare: answers this process lost to a survivor
            answers = [raw.decode() if isinstance(raw, bytes) else str(raw) for raw in fenced]
            self._lose(batch, answers, StopReason.OWNER_LOST)

    def _answers_in(self, batch: _Batch) -> list[str]:
        """Every answer with frames or an end in the batch (and not left out of it)."""
        answers = {answer for answer, buffer in self._buffers.items() if buffer.in_batch(batch)}
        answers.update(batch.queued)
        answers.update(batch.ends)
        answers.difference_update(batch.skip)
        return list(answers)

    def _lose(self, batch: _Batch, answers: list[str], reason: StopReason) -> None:
        """Write nothing more of these answers of the batch: their frames were not written
        (Redis failed), or must not be (another process owns them now)."""
        lost: list[uuid.UUID] = []
        for answer in answers:
            queued = batch.queued.get(answer)
            buffer = self._buffers.get(answer)
            if queued is not None:
                self._break(answer, queued[0], ended=answer in batch.ends)
                lost.append(queued[0])
            elif buffer is not None:
                self._break_buffer(buffer)
                lost.append(buffer.message_id)
        for message_id in lost:
            self._on_lost(message_id, reason)

    def _publish_counts(self) -> None:
        """Add the writes and frames since the last time to the metrics: at most once a second
        while writes follow each other, and once the writer has nothing more to write, so
        /metrics is never more than a second behind. (A multiprocess metric's update takes a
        lock and writes to a file mapping: the two counts and the lag were an eighth of a
        write's cost.)"""
        now = time.monotonic()
        if self.pending and now - self._published_at < 1.0:
            return
        self._published_at = now
        STREAM_LOG_ROUND_TRIPS.inc(self.round_trips - self._published[0])
        STREAM_LOG_FRAMES.inc(self.frames_written - self._published[1])
        self._published = (self.round_trips, self.frames_written)

    def _break(self, answer: str, message_id: uuid.UUID, *, ended: bool) -> None:
        """Write nothing more to a log of frames queued one by one (see `_break_buffer`)."""
        if ended:  # the run ended in this batch (a later Continue starts a fresh log)
            return
        pending = self.pending
        if answer in pending.queued:  # written after this, they would leave a hole
            pending.skip.append(answer)
            if answer in pending.ends:  # its end is queued already: nothing more comes
                return
        self._broken[log_key(answer)] = message_id  # until its end is queued (mark_terminal)

    def _break_buffer(self, buffer: LoggedBuffer) -> None:
        """Write nothing more to the answer's log. Its readers here see every frame from now
        on, its end included; a reader elsewhere sees the log's end."""
        if buffer.in_batch(self.pending):  # written after this, they would leave a hole
            self.pending.skip.append(buffer.answer)
        buffer.stop_logging()
        if self._buffers.get(buffer.answer) is buffer:
            del self._buffers[buffer.answer]
        self._held.discard(buffer)
        if not buffer.closed:
            self._broken[log_key(buffer.answer)] = buffer.message_id  # until its end comes


class LoggedBuffer(InMemoryStreamBuffer):
    """A stream buffer whose frames also go to the answer's log, for readers anywhere.

    A frame costs the log one list append: it goes into the writer's next batch as it is
    appended (the frame names its log), and the buffer notes which batches hold its frames, so
    it knows what the log has without being told after every write. Only a buffer whose readers
    are held back (more than UNLOGGED_LEAD frames past the log) is told.
    """

    __slots__ = (
        "_log",
        "message_id",
        "answer",
        "_logging",
        "_batch_number",
        "_before_batch",
        "_prior_number",
        "_before_prior",
        "_show_limit",
    )

    def __init__(self, stream_log: StreamLog, message_id: uuid.UUID, first_seq: int = 0) -> None:
        super().__init__(first_seq)
        self._log = stream_log
        self.message_id = message_id
        self.answer = str(message_id)
        self._logging = True
        # The last two batches that took frames of this buffer, and how many of its frames came
        # before each: once a batch is written, the log holds every frame up to its last one.
        self._batch_number = -1
        self._before_batch = 0
        self._prior_number = -1
        self._before_prior = 0
        # How many frames readers may have: those within the lead of what the log is known to
        # hold (all of them once it stops logging).
        self._show_limit = UNLOGGED_LEAD

    def append(self, frame: bytes) -> int:
        # InMemoryStreamBuffer.append with the log's part inlined: this runs for every frame.
        if self._closed:
            raise RuntimeError("append to a closed stream buffer")
        frames = self._frames
        frames.append(frame)
        count = len(frames)
        if self._logging:
            batch = self._log.pending
            if batch.number != self._batch_number:  # this buffer's first frame in the batch
                if not batch.since:
                    self._log.first_of_batch(batch)
                if count == 1:
                    batch.starts.append(self.answer)
                self._prior_number = self._batch_number
                self._before_prior = self._before_batch
                self._batch_number = batch.number
                self._before_batch = count - 1
            batch.frames.append(frame)
        if count > self._show_limit and not self._lift_show_limit():
            return self._first_seq + count - 1
        if not self._flush_due:
            if self._waiting:  # before the loop looks for I/O again: no added latency
                self._flush_due = True
                asyncio.get_running_loop().call_soon(self._flush)
            else:  # readers not waiting read it when they run
                self._shown = count
        return self._first_seq + count - 1

    def _flush(self) -> None:
        self._flush_due = False
        self._show(min(len(self._frames), self._show_limit))

    def _logged(self) -> int:
        """How many of the frames the log is known to hold."""
        written = self._log.written_number
        if self._batch_number <= written:
            return len(self._frames)
        if self._prior_number <= written:
            return self._before_batch
        return self._before_prior

    def _lift_show_limit(self) -> bool:
        """The frames are past the lead of what the log was known to hold: look again. False
        if they still are (the readers wait for the next write)."""
        limit = self._show_limit = self._logged() + UNLOGGED_LEAD
        if len(self._frames) <= limit:
            return True
        self._log.hold(self)
        return False

    def has_frames_in(self, number: int) -> bool:
        """Does batch `number` hold frames of this buffer?"""
        return self._logging and number in (self._batch_number, self._prior_number)

    def has_frames_after(self, number: int) -> bool:
        return self._batch_number > number

    def in_batch(self, batch: _Batch) -> bool:
        return self.has_frames_in(batch.number) or self.answer in batch.ends

    @property
    def logging(self) -> bool:
        return self._logging

    def logged_through(self) -> None:
        """A write is done: show the frames held back that the log now holds."""
        self._lift_show_limit()
        count = min(len(self._frames), self._show_limit)
        if self._shown < count:
            self._show(count)

    def stop_logging(self) -> None:
        """The log takes nothing more of this answer: show every frame, now and from now on."""
        self._logging = False
        self._show_limit = sys.maxsize
        self._show(len(self._frames))

    def close(self) -> None:
        self._log.buffer_ended(self)
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
