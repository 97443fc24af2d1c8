"""The Redis stream log and owner leases on a real Redis: batching, fencing, expiry, take-over."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from app.streaming.events import CompleteEvent
from app.streaming.generation import StopReason
from app.streaming.leases import LIVE_KEY, StreamLeases
from app.streaming.redis_log import (
    IN_FLIGHT_TTL_S,
    OWNERS_KEY,
    UNLOGGED_LEAD,
    LogReader,
    StreamLog,
    last_entry,
    log_key,
    read_whole_log,
)
from app.streaming.sse import encode_chunk, encode_event, encode_start
from tests.fixtures.rate_limits import RedisTarget, redis_target

pytestmark = pytest.mark.asyncio


@pytest.fixture
def target() -> Iterator[RedisTarget]:
    with redis_target() as found:
        yield found


@pytest.fixture
async def redis(target: RedisTarget) -> AsyncIterator[Redis]:
    client = Redis.from_url(target.url)
    try:
        yield client
    finally:
        await client.aclose()


class Process:
    """One process's log writer and leases, as the cluster wires them."""

    def __init__(self, redis: Redis, lease_s: float = 5.0) -> None:
        self.token = uuid.uuid4().hex
        self.lost: list[tuple[uuid.UUID, StopReason]] = []
        self.log = StreamLog(
            redis,
            owner_token=self.token,
            done_ttl_s=30,
            on_lost=self._on_lost,
        )
        self.leases = StreamLeases(
            redis, owner_token=self.token, lease_s=lease_s, on_lost=self._on_lost
        )

    def _on_lost(self, message_id: uuid.UUID, reason: StopReason) -> None:
        self.lost.append((message_id, reason))

    async def claim(self, answers: list[uuid.UUID]) -> None:
        """Own each answer, as a process does before its first frame."""
        for answer in answers:
            await self.leases.claim(answer)

    def frame(self, message_id: uuid.UUID, seq: int) -> bytes:
        return encode_chunk(f"id: {message_id}:", seq, f"w{seq} ", seq - 1)


async def _cleanup(redis: Redis, *ids: uuid.UUID) -> None:
    for message_id in ids:
        await redis.delete(log_key(message_id))
        await redis.hdel(OWNERS_KEY, str(message_id))
        await redis.zrem(LIVE_KEY, str(message_id))


async def test_frames_of_many_answers_go_in_few_round_trips(redis: Redis) -> None:
    process = Process(redis)
    process.log.start()
    answers = [uuid.uuid4() for _ in range(50)]
    try:
        await process.claim(answers)
        buffers = [process.log.buffer(answer) for answer in answers]
        for seq in range(20):
            for answer, buffer in zip(answers, buffers, strict=True):
                buffer.append(process.frame(answer, seq))
                if seq == 19:  # the terminal event, closed in the same step as in a generation
                    buffer.close()
            await asyncio.sleep(0.001)
        await process.log.flushed(answers[-1])
        await process.log.close()
        assert process.log.frames_written == 50 * 20
        assert process.log.round_trips / process.log.frames_written < 0.2
        for answer in answers:
            contents = await read_whole_log(redis, answer)
            assert contents.last_seq == 19 and contents.ended
            assert "".join(contents.chunks) == "".join(f"w{seq} " for seq in range(20))
            # Memory grows with the frames, and the ended log expires.
            assert await redis.xlen(log_key(answer)) == 20
            assert 0 < await redis.ttl(log_key(answer)) <= 30
            # The terminal write let go of the lease too: nobody owns an ended answer.
            assert await redis.hget(OWNERS_KEY, str(answer)) is None
            assert await redis.zscore(LIVE_KEY, str(answer)) is None
        assert process.lost == []
    finally:
        await _cleanup(redis, *answers)


async def test_every_frame_is_logged_byte_for_byte_whatever_its_text(redis: Redis) -> None:
    """A write sends its frames joined, told apart by the blank line that ends each event: text
    with blank lines, CRs, separators or nothing in it must come back exactly as appended."""
    process = Process(redis)
    process.log.start()
    answers = [uuid.uuid4() for _ in range(3)]
    texts = ["", "\n\n", "a\r\n\r\nb", "\\n\\n", "data: x\n\nid: y", "é✓ " * 500, " "]
    try:
        appended: dict[uuid.UUID, list[bytes]] = {answer: [] for answer in answers}
        await process.claim(answers)
        buffers = [process.log.buffer(answer) for answer in answers]
        for answer, buffer in zip(answers, buffers, strict=True):
            frames = [encode_start(answer, 0, uuid.uuid4(), uuid.uuid4())]
            frames += [
                encode_chunk(f"id: {answer}:", seq, text, seq - 1)
                for seq, text in enumerate(texts, start=1)
            ]
            done = CompleteEvent(
                message_id=str(answer), conversation_id="c", chunks=7, finish_reason="stop"
            )
            frames.append(encode_event(answer, len(frames), done))
            for frame in frames:  # every answer's frames in one write
                buffer.append(frame)
            buffer.close()
            appended[answer] = frames
        await process.log.flushed(answers[-1])
        assert process.log.round_trips == 1
        for answer in answers:
            entries = await redis.xrange(log_key(answer))
            assert [fields[b"f"] for _, fields in entries] == appended[answer]
            assert [b"t" in fields for _, fields in entries] == [False] * 8 + [True]
            contents = await read_whole_log(redis, answer)
            assert contents.has_start and contents.ended and contents.chunks == texts
        assert process.lost == []
    finally:
        await process.log.close()
        await _cleanup(redis, *answers)


async def test_a_write_with_a_frame_that_is_no_whole_event_stores_nothing(redis: Redis) -> None:
    """The script checks the whole write before storing any of it: a frame names its own log
    and entry, and one without its blank line would run into the next one, which would then be
    stored in the wrong entry of the wrong log. The answers of that write are lost, none is
    stored wrong."""
    bad_frames = [
        lambda answer: f"id: {answer}:0\ndata: {{}}\n".encode(),  # no blank line
        lambda answer: b"id: x:0\ndata: {}\n\n",  # no answer's id
        lambda answer: b"data: {}\n\n",  # no id at all
    ]
    for bad_frame, bad_at in itertools.product(bad_frames, (0, 1, 2)):  # first, middle, last
        process = Process(redis)
        process.log.start()
        answers = [uuid.uuid4() for _ in range(3)]
        try:
            await process.claim(answers)
            for index, answer in enumerate(answers):
                frame = bad_frame(answer) if index == bad_at else process.frame(answer, 0)
                process.log.buffer(answer).append(frame)
            await process.log.flushed(answers[-1])
            assert sorted(process.lost) == sorted((a, StopReason.LOG_LOST) for a in answers)
            for answer in answers:
                assert await redis.xlen(log_key(answer)) == 0
        finally:
            await process.log.close()
            await _cleanup(redis, *answers)


async def test_an_unfinished_log_expires_within_a_day(redis: Redis) -> None:
    process = Process(redis)
    process.log.start()
    answer = uuid.uuid4()
    try:
        await process.leases.claim(answer)
        process.log.buffer(answer).append(process.frame(answer, 0))
        await process.log.flushed(answer)
        assert IN_FLIGHT_TTL_S - 5 < await redis.ttl(log_key(answer)) <= IN_FLIGHT_TTL_S
    finally:
        await process.log.close()
        await _cleanup(redis, answer)


async def test_a_process_that_lost_the_answer_writes_nothing_more_and_ends_its_readers(
    redis: Redis,
) -> None:
    owner, survivor = Process(redis, lease_s=0.5), Process(redis, lease_s=0.5)
    owner.log.start()
    answer = uuid.uuid4()
    try:
        await owner.leases.claim(answer)
        buffer = owner.log.buffer(answer)
        buffer.append(owner.frame(answer, 0))
        await owner.log.flushed(answer)
        # The owner stops renewing (a long pause): the survivor takes the answer over.
        await asyncio.sleep(0.6)
        assert answer in await survivor.leases.lapsed()
        assert await survivor.leases.take_over(answer)
        assert not await Process(redis).leases.take_over(answer)  # only one survivor wins
        frames = buffer.read(after_seq=0, idle_s=30)
        buffer.append(owner.frame(answer, 1))
        await owner.log.flushed(answer)
        assert owner.lost == [(answer, StopReason.OWNER_LOST)]
        # Its own readers still get what it sends them, up to its end (its error event).
        buffer.append(owner.frame(answer, 2))
        buffer.close()
        received = b""
        async for chunk in frames:
            assert chunk is not None
            received += chunk
        assert received == owner.frame(answer, 1) + owner.frame(answer, 2)
        assert await last_entry(redis, answer) == (0, False)  # none of it in the log
    finally:
        await owner.log.close()
        await _cleanup(redis, answer)


async def test_a_remote_reader_resumes_after_any_event_and_ends_at_the_terminal(
    redis: Redis,
) -> None:
    process = Process(redis)
    process.log.start()
    answer = uuid.uuid4()
    try:
        await process.leases.claim(answer)
        buffer = process.log.buffer(answer)
        for seq in range(6):
            buffer.append(process.frame(answer, seq))
        reader = LogReader(redis, answer, process.leases)
        received: list[bytes] = []

        async def read() -> None:
            async for frames in reader.read(after_seq=2, idle_s=5):
                assert frames is not None
                received.append(frames)

        reading = asyncio.create_task(read())
        await asyncio.sleep(0.05)
        assert await process.leases.count_readers(answer) == 1  # counted for the grace window
        buffer.append(process.frame(answer, 6))
        buffer.close()
        await asyncio.wait_for(reading, 5)
        text = b"".join(received)
        assert text == b"".join(process.frame(answer, seq) for seq in range(3, 7))
        assert await process.leases.count_readers(answer) == 0
    finally:
        await process.log.close()
        await _cleanup(redis, answer)


async def test_a_reader_past_the_end_waits_only_while_the_answer_runs(redis: Redis) -> None:
    process = Process(redis)
    process.log.start()
    answer = uuid.uuid4()
    try:
        await process.leases.claim(answer)
        buffer = process.log.buffer(answer)
        buffer.append(process.frame(answer, 0))
        reader = LogReader(redis, answer)
        frames = reader.read(after_seq=100_000, idle_s=0.2)
        assert await asyncio.wait_for(anext(frames), 2) is None  # a ping: the answer runs
        buffer.append(process.frame(answer, 1))
        buffer.close()
        await process.log.flushed(answer)
        with pytest.raises(StopAsyncIteration):  # ended below the id it resumes after
            await asyncio.wait_for(anext(frames), 2)
    finally:
        await process.log.close()
        await _cleanup(redis, answer)


async def test_the_writers_own_readers_run_ahead_of_the_log_by_the_lead_at_most(
    redis: Redis,
) -> None:
    """They are shown a frame at once, as in the embedded mode, up to UNLOGGED_LEAD events past
    the log's end: a survivor of a kill -9 puts the log's end past that (test_stream_cluster)."""
    process = Process(redis)
    answer = uuid.uuid4()
    frames = [process.frame(answer, seq) for seq in range(UNLOGGED_LEAD + 12)]
    try:
        await process.leases.claim(answer)
        buffer = process.log.buffer(answer)
        received: list[bytes] = []

        async def read_all() -> None:
            async for part in buffer.read(after_seq=-1, idle_s=30):
                assert part is not None
                received.append(part)

        reading = asyncio.create_task(read_all())
        await asyncio.sleep(0)  # it waits at the end of the buffer
        buffer.append(frames[0])
        buffer.append(frames[1])
        await asyncio.sleep(0.01)
        # The writer has not started: nothing is in the log, and the reader has both.
        assert await last_entry(redis, answer) is None
        assert b"".join(received) == frames[0] + frames[1]
        for frame in frames[2:]:
            buffer.append(frame)
        await asyncio.sleep(0.01)
        assert b"".join(received) == b"".join(frames[:UNLOGGED_LEAD])  # the lead, not more
        buffer.close()
        process.log.start()
        await asyncio.wait_for(reading, 5)
        assert b"".join(received) == b"".join(frames)
        contents = await read_whole_log(redis, answer)
        assert contents.ended and contents.last_seq == len(frames) - 1
    finally:
        await process.log.close()
        await _cleanup(redis, answer)


async def test_frames_appended_while_a_write_is_in_flight_go_in_the_next_write(
    redis: Redis,
) -> None:
    """Frames appended while Redis has not answered a write yet (held here by CLIENT PAUSE) go
    in the next write, none lost and none written twice, and the terminal event still ends the
    log."""
    process = Process(redis)
    answer = uuid.uuid4()
    frames = [process.frame(answer, seq) for seq in range(6)]
    try:
        await process.leases.claim(answer)
        process.log.start()
        buffer = process.log.buffer(answer)
        await redis.execute_command("CLIENT", "PAUSE", 300, "WRITE")
        buffer.append(frames[0])
        async with asyncio.timeout(5):  # the write of frame 0 is sent, its reply held
            while process.log.frames_written == 0 and not _writing(process.log):
                await asyncio.sleep(0.005)
        for frame in frames[1:]:
            buffer.append(frame)
            await asyncio.sleep(0.01)
        buffer.close()
        await process.log.flushed(answer)
        await process.log.flushed(answer)  # the write after the one in flight
        contents = await read_whole_log(redis, answer)
        assert contents.ended and contents.last_seq == 5
        assert contents.chunks == [f"w{seq} " for seq in range(6)]
        assert await redis.xlen(log_key(answer)) == 6
        assert process.log.round_trips == 2 and process.log.frames_written == 6
        assert process.lost == []
    finally:
        await redis.execute_command("CLIENT", "UNPAUSE")
        await process.log.close()
        await _cleanup(redis, answer)


async def test_after_a_failed_write_nothing_more_of_its_answers_is_written(
    redis: Redis,
) -> None:
    """A write refused (here for another answer's bad frame) loses the answers it held: their
    frames queued meanwhile for the next write are left out of it, so no log has a hole."""
    process = Process(redis)
    answer, other = uuid.uuid4(), uuid.uuid4()
    try:
        await process.claim([answer, other])
        process.log.start()
        buffer = process.log.buffer(answer)
        await redis.execute_command("CLIENT", "PAUSE", 300, "WRITE")
        buffer.append(process.frame(answer, 0))
        process.log.buffer(other).append(b"data: {}\n\n")
        async with asyncio.timeout(5):  # the write is sent, its reply held
            while not _writing(process.log):
                await asyncio.sleep(0.005)
        buffer.append(process.frame(answer, 1))  # for the next write
        await process.log.flushed(answer)
        assert sorted(process.lost) == sorted(
            [(answer, StopReason.LOG_LOST), (other, StopReason.LOG_LOST)]
        )
        await redis.execute_command("CLIENT", "UNPAUSE")
        await process.log.close()  # whatever was still queued is written by now
        assert await redis.xlen(log_key(answer)) == 0
        assert process.log.frames_written == 0
    finally:
        await redis.execute_command("CLIENT", "UNPAUSE")
        await process.log.close()
        await _cleanup(redis, answer, other)


async def test_a_buffer_closed_without_its_end_leaves_the_answer_to_recovery(
    redis: Redis,
) -> None:
    """A buffer is closed in the step that appends its terminal event. One closed with nothing
    new since the last write has no entry to mark as the end: its log is not ended and its
    owner is kept, so the lease lapses and a survivor ends the log as the database holds it."""
    process = Process(redis)
    process.log.start()
    answer = uuid.uuid4()
    try:
        await process.claim([answer])
        buffer = process.log.buffer(answer)
        buffer.append(process.frame(answer, 0))
        await process.log.flushed(answer)
        buffer.close()
        await process.log.flushed(answer)
        await process.log.close()
        assert await last_entry(redis, answer) == (0, False)
        assert await redis.hget(OWNERS_KEY, str(answer)) == process.token.encode()
    finally:
        await process.log.close()
        await _cleanup(redis, answer)


def _writing(log: StreamLog) -> bool:
    return log._in_flight is not None  # noqa: SLF001 - the test waits for a write in flight


async def test_when_the_log_cannot_be_written_the_writers_readers_get_every_frame_and_the_end(
    redis: Redis,
) -> None:
    """The process lives on and ends the answer itself: its readers must not wait for a log."""
    unreachable = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    process = Process(unreachable)
    process.log.start()
    answer = uuid.uuid4()
    try:
        buffer = process.log.buffer(answer)
        frames = buffer.read(after_seq=-1, idle_s=30)
        buffer.append(process.frame(answer, 0))
        first = await asyncio.wait_for(anext(frames), 5)
        assert first == process.frame(answer, 0)  # at once, before the write
        async with asyncio.timeout(5):
            while not process.lost:
                await asyncio.sleep(0.01)
        assert process.lost == [(answer, StopReason.LOG_LOST)]
        buffer.append(process.frame(answer, 1))  # the generation's last frames: shown at once
        buffer.close()
        assert await asyncio.wait_for(anext(frames), 1) == process.frame(answer, 1)
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(frames), 1)
    finally:
        await process.log.close()
        await unreachable.aclose()


async def test_the_writer_survives_a_script_flush_and_a_dropped_connection(
    target: RedisTarget, redis: Redis
) -> None:
    """Redis restarted (its script cache empty) or the writer's connection cut: the writes go
    on, on a new connection; only a Redis that stays away ends the answers."""
    name = f"log-writer-{uuid.uuid4().hex[:8]}"
    own = Redis.from_url(target.url, client_name=name)
    process = Process(own)
    process.log.start()
    first = uuid.uuid4()
    try:
        await process.leases.claim(first)
        buffer = process.log.buffer(first)
        buffer.append(process.frame(first, 0))
        await process.log.flushed(first)
        await redis.script_flush()
        buffer.append(process.frame(first, 1))
        await process.log.flushed(first)
        assert await last_entry(redis, first) == (1, False)
        assert process.lost == []

        killed = 0
        for client in await redis.client_list():
            if client.get("name") == name:
                killed += await redis.client_kill_filter(_id=client["id"])
        assert killed  # the writer's connection was there to cut
        buffer.append(process.frame(first, 2))
        await process.log.flushed(first)
        assert await last_entry(redis, first) == (2, False)
        assert process.lost == []
    finally:
        await process.log.close()
        await own.aclose()
        await _cleanup(redis, first)
