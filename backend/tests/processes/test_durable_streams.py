"""Answers outlive the process writing them: `kill -9` with Redis (a survivor ends and stores the
answer within the lease) and without it (the restart resumes from the last checkpoint), a Redis
lost mid-stream, and `serve --workers 2` refusing to start without Redis.

Real `chatstream serve` processes, killed for real; the in-loop cluster tests are in
tests/integration/test_stream_cluster.py. The kill tests run a Redis of their own: on a shared
one, a survivor of another test run could take the lapsed lease over first, and it cannot store
the answer in this test's database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from app.streaming.redis_log import UNLOGGED_LEAD, entry_seq, log_key
from tests.fixtures.accounts import new_account, stream_token
from tests.fixtures.database import DbProbe, finished, sqlite_file_url
from tests.fixtures.environment import CHATSTREAM_BIN, free_port
from tests.fixtures.processes import RedisServer, redis_server
from tests.fixtures.serve import SCRIPTED_CHUNKS, ServeProcess, migrate, serve_env, serving
from tests.fixtures.streams import (
    SSEEvent,
    StreamReader,
    event_seq,
    read_stream,
    start_stream,
    stream_params,
)

pytestmark = pytest.mark.timeout(120)

OWNER_LEASE_S = 2.0
CHECKPOINT_S = 0.5
SLACK_S = 2.0


def _assert_ids_from(events: list[SSEEvent], message_id: str, first_seq: int) -> None:
    ids = [event.id for event in events]
    assert ids == [f"{message_id}:{first_seq + i}" for i in range(len(events))], ids


def _assert_ids_then_end(
    events: list[SSEEvent], message_id: str, first_seq: int, log_end: int
) -> None:
    """Ids from `first_seq` on, the terminal event's past the lead the writer's own clients may
    have had beyond the log's last event (`log_end`)."""
    _assert_ids_from(events[:-1], message_id, first_seq)
    assert events[-1].id == f"{message_id}:{log_end + 1 + UNLOGGED_LEAD}", events[-1].id


def _chunks(events: list[SSEEvent]) -> str:
    return "".join(e.json["content"] for e in events if e.json["type"] == "chunk")


def _assert_ended_internal(event: SSEEvent) -> None:
    payload = event.json
    assert payload["type"] == "error", payload
    assert (payload["code"], payload["retryable"]) == ("internal", True), payload


async def _ended_by_a_dead_server(reading: asyncio.Task[StreamReader]) -> None:
    """A reader whose server was killed: its connection breaks (or ends) at once."""
    with contextlib.suppress(httpx.HTTPError):
        await asyncio.wait_for(reading, 10)


# With Redis: a survivor ends the answer --------------------------------------------------------


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def _writer_and_survivor(
    tmp_path: Path, postgres_url: str, redis_url: str, **settings: str
) -> tuple[ServeProcess, ServeProcess]:
    """Two servers sharing Redis and PostgreSQL, whose leases lapse OWNER_LEASE_S after death."""
    a, b = (
        ServeProcess(
            serve_env(
                tmp_path / name,
                postgres_url,
                REDIS_URL=redis_url,
                STREAM_OWNER_LEASE_S=str(OWNER_LEASE_S),
                **settings,
            )
        )
        for name in ("writer", "survivor")
    )
    return a, b


async def test_kill_9_of_the_writer_ends_the_answer_on_the_survivor_within_the_lease(
    tmp_path: Path, postgres_url: str, own_redis: RedisServer
) -> None:
    a, b = _writer_and_survivor(tmp_path, postgres_url, own_redis.url)
    with serving(a, b):
        async with a.client() as client_a, b.client() as client_b:
            account = await new_account(client_a)
            params = stream_params(await stream_token(client_a, account))
            sender, sending = start_stream(client_a, params)
            await sender.wait_for_events(5)
            message_id = sender.message_id
            watcher, watching = start_stream(
                client_b,
                {"token": await stream_token(client_b, account)},
                path=f"/api/v1/chat/messages/{message_id}/stream",
            )
            await watcher.wait_for_events(10)
            a.kill()
            killed_at = time.perf_counter()
            await _ended_by_a_dead_server(sending)
            await asyncio.wait_for(watching, OWNER_LEASE_S + 2 * SLACK_S)
            ended_after_s = watcher.events[-1].received_at - killed_at
            # The sender reconnects to the survivor after the last event the log had for it.
            resume_at = min(event_seq(sender.events[-1]), event_seq(watcher.events[-2]))
            params["token"] = await stream_token(client_b, account)
            rest = await read_stream(
                client_b, params, headers={"Last-Event-ID": f"{message_id}:{resume_at}"}
            )

    assert ended_after_s <= OWNER_LEASE_S + SLACK_S, ended_after_s
    assert watcher.ended_by_server
    log_end = event_seq(watcher.events[-2])
    _assert_ids_then_end(watcher.events, message_id, 0, log_end)
    _assert_ended_internal(watcher.events[-1])
    assert watcher.count("error") == 1
    async with DbProbe(postgres_url) as probe:
        stored = await probe.wait_for_message(message_id, finished)
    assert stored.status == "interrupted"
    assert stored.content == watcher.chunk_text == watcher.events[-1].json["content"]
    assert stored.chunk_count == watcher.count("chunk") < SCRIPTED_CHUNKS
    _assert_ids_then_end(rest.events, message_id, resume_at + 1, log_end)
    _assert_ended_internal(rest.events[-1])
    assert _chunks(sender.events[: resume_at + 1]) + rest.chunk_text == stored.content


async def test_kill_9_tells_the_writers_own_readers_the_end_and_the_text_kept(
    tmp_path: Path, postgres_url: str, own_redis: RedisServer
) -> None:
    """The writer's clients, too, get the rest and the end, and end showing what is stored.

    They are shown frames before the log has them (up to UNLOGGED_LEAD events ahead). The
    writer is frozen (SIGSTOP) at a moment its client has an event the log lacks, if there is
    such a moment, then killed: the state a `kill -9` a few milliseconds earlier leaves. The
    client reconnects after its own last event: the survivor's terminal event comes past it,
    with the text kept, which the client shows instead of its own.
    """
    # Pings every second: a reader with nothing to read looks again as often.
    a, b = _writer_and_survivor(tmp_path, postgres_url, own_redis.url, STREAM_PING_INTERVAL_S="1")
    log = Redis.from_url(own_redis.url)
    with serving(a, b):
        async with a.client() as client_a, b.client() as client_b:
            account = await new_account(client_a)
            params = stream_params(await stream_token(client_a, account))
            sender, sending = start_stream(client_a, params)
            await sender.wait_for_events(10)
            message_id = sender.message_id
            log_tail = await _freeze_when_ahead_of_the_log(a, sender, log, message_id)
            a.kill()
            await _ended_by_a_dead_server(sending)
            await log.aclose()
            params["token"] = await stream_token(client_b, account)
            rest, resuming = start_stream(
                client_b, params, headers={"Last-Event-ID": sender.events[-1].id or ""}
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(resuming, OWNER_LEASE_S + 2 * SLACK_S)
            async with DbProbe(postgres_url) as probe:
                stored = await probe.wait_for_message(message_id, finished)

    seen = f"the client saw events up to {sender.events[-1].id}; the log had up to {log_tail}"
    assert rest.status_code == 200, f"{rest.status_code}, as if it had the terminal event; {seen}"
    told = f"the reconnect told {rest.text!r} (ended: {rest.ended_by_server}); {seen}"
    assert rest.ended_by_server and rest.events, told
    _assert_ids_then_end(rest.events, message_id, event_seq(sender.events[-1]) + 1, log_tail)
    _assert_ended_internal(rest.events[-1])
    assert event_seq(sender.events[-1]) <= log_tail + UNLOGGED_LEAD, seen
    logged = [event for event in sender.events if event_seq(event) <= log_tail]
    assert _chunks(logged) + rest.chunk_text == stored.content, seen
    assert rest.events[-1].json["content"] == stored.content  # what the client shows at the end


async def _freeze_when_ahead_of_the_log(
    writer: ServeProcess, reader: StreamReader, log: Redis, message_id: str
) -> int:
    """SIGSTOP the writer once `reader` has an event its log lacks (within a second or so);
    the seq of the log's last event then."""
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        if event_seq(reader.events[-1]) > await _log_tail(log, message_id):
            os.kill(writer.pid, signal.SIGSTOP)
            await asyncio.sleep(0.2)  # what was on its way arrives: the reader's, and Redis's
            tail = await _log_tail(log, message_id)
            if event_seq(reader.events[-1]) > tail:
                return tail
            os.kill(writer.pid, signal.SIGCONT)
        await asyncio.sleep(0.001)
    return await _log_tail(log, message_id)


async def _log_tail(log: Redis, message_id: str) -> int:
    """The seq of the last event in the answer's Redis log (-1 if none)."""
    entries = await log.xrevrange(log_key(message_id), count=1)
    return entry_seq(entries[0][0]) if entries else -1


# Without Redis: the restart resumes from the last checkpoint ------------------------------------


async def test_kill_9_without_redis_resumes_from_the_last_checkpoint_after_a_restart(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    database_url = sqlite_file_url(data_dir / "chatstream.db")
    env = serve_env(data_dir, database_url, STREAM_CHECKPOINT_S=str(CHECKPOINT_S))
    migrate(env)
    server = ServeProcess(env)
    with serving(server):
        async with server.client() as client:
            account = await new_account(client)
            params = stream_params(await stream_token(client, account))
            reader, reading = start_stream(client, params)
            await reader.wait_for_events(30)  # 1.5 s: past two checkpoints at least
            server.kill()
            await _ended_by_a_dead_server(reading)
        seen = list(reader.events)
        message_id = reader.message_id

        server.start()  # the same command, on the same port and database
        server.wait_ready()
        async with DbProbe(database_url) as probe:
            stored = await probe.message(message_id)
        assert stored is not None and stored.status == "interrupted", stored
        assert stored.chunk_count and stored.chunk_ends is not None
        assert len(stored.chunk_ends) == stored.chunk_count
        # The client may have seen chunks past the last checkpoint; those are lost. Resume from
        # what both have: chunk i is event i + 1.
        resume_at = min(event_seq(seen[-1]), stored.chunk_count)
        async with server.client() as client:
            params["token"] = await stream_token(client, account)
            rest = await read_stream(
                client, params, headers={"Last-Event-ID": f"{message_id}:{resume_at}"}
            )
            # A client that saw chunks past the checkpoint has words the crash lost: it is told
            # what was kept, which it shows instead (and can continue from).
            past = stored.chunk_count + 5
            params["token"] = await stream_token(client, account)
            lost = await read_stream(
                client, params, headers={"Last-Event-ID": f"{message_id}:{past}"}
            )

    assert lost.status_code == 200, lost.body
    _assert_ids_from(lost.events, message_id, past + 1)
    assert lost.types == ["error"]
    _assert_ended_internal(lost.events[-1])
    assert lost.events[-1].json["content"] == stored.content

    assert rest.status_code == 200, rest.body
    _assert_ids_from(rest.events, message_id, resume_at + 1)
    assert rest.types == ["chunk"] * (stored.chunk_count - resume_at) + ["error"]
    _assert_ended_internal(rest.events[-1])
    assert _chunks(seen[: resume_at + 1]) + rest.chunk_text == stored.content
    # What the client saw up to the checkpoint is exactly what was stored, chunk by chunk.
    ends = [0, *stored.chunk_ends]
    stored_chunks = [stored.content[start:end] for start, end in zip(ends, ends[1:], strict=False)]
    seen_chunks = [e.json["content"] for e in seen if e.json["type"] == "chunk"]
    both = min(len(seen_chunks), len(stored_chunks))
    assert seen_chunks[:both] == stored_chunks[:both]


def test_serve_with_two_workers_refuses_to_start_without_redis(tmp_path: Path) -> None:
    env = serve_env(tmp_path, sqlite_file_url(tmp_path / "chatstream.db"))
    result = subprocess.run(
        [str(CHATSTREAM_BIN), "serve", "--port", str(free_port()), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr


# Redis lost mid-stream ---------------------------------------------------------------------------


async def test_redis_killed_mid_stream_ends_the_answer_with_a_retryable_error_and_stores_it(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    data_dir = tmp_path / "data"
    database_url = sqlite_file_url(data_dir / "chatstream.db")
    env = serve_env(data_dir, database_url, REDIS_URL=own_redis.url)
    migrate(env)
    server = ServeProcess(env)
    with serving(server):
        async with server.client() as client:
            account = await new_account(client)
            reader, reading = start_stream(
                client, stream_params(await stream_token(client, account))
            )
            await reader.wait_for_events(10)
            own_redis.kill()
            killed_at = time.perf_counter()
            await asyncio.wait_for(reading, 10)  # nothing hangs: the stream ends
        ended_after_s = reader.events[-1].received_at - killed_at
        async with DbProbe(database_url) as probe:
            stored = await probe.wait_for_message(reader.message_id, finished)

    assert ended_after_s <= SLACK_S, ended_after_s
    assert reader.ended_by_server
    _assert_ids_from(reader.events, reader.message_id, 0)  # the answer's own event, with an id
    _assert_ended_internal(reader.events[-1])
    assert stored.status == "interrupted"
    assert stored.content == reader.chunk_text


# Shutdown of `serve --workers 2` -----------------------------------------------------------------


async def test_sigterm_to_two_workers_ends_open_streams_as_one_process_does(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    """Each worker serves with ChatStream's own server: on SIGTERM it ends its streams at once
    with the retryable error and stores them, instead of waiting out the graceful timeout and
    cutting them without a terminal event (uvicorn's plain server in a spawned worker)."""
    data_dir = tmp_path / "data"
    database_url = sqlite_file_url(data_dir / "chatstream.db")
    # Long answers: a stream still open when the graceful timeout (15 s) ran out would be cut.
    env = serve_env(
        data_dir,
        database_url,
        REDIS_URL=own_redis.url,
        SCRIPTED_CHUNKS="400",
        SCRIPTED_CHUNK_DELAY_S="0.1",
    )
    migrate(env)
    server = ServeProcess(env, workers=2)
    readers: list[StreamReader] = []
    readings: list[asyncio.Task[StreamReader]] = []
    with serving(server):
        assert len(server.worker_pids()) == 2
        clients = [server.client() for _ in range(4)]  # connections of their own: both workers
        try:
            for client in clients:
                account = await new_account(client)
                reader, reading = start_stream(
                    client, stream_params(await stream_token(client, account))
                )
                await reader.wait_for_events(3)
                readers.append(reader)
                readings.append(reading)
            stopping_at = time.perf_counter()
            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(asyncio.gather(*readings), 30)
            assert server.process.wait(20) in (0, -signal.SIGTERM)
        finally:
            for client in clients:
                await client.aclose()
    async with DbProbe(database_url) as probe:
        stored = [await probe.wait_for_message(r.message_id, finished) for r in readers]

    for reader, answer in zip(readers, stored, strict=True):
        assert reader.ended_by_server
        assert reader.events[-1].received_at - stopping_at <= SLACK_S
        _assert_ids_from(reader.events, reader.message_id, 0)
        _assert_ended_internal(reader.events[-1])
        assert answer.status == "interrupted"
        assert answer.content == reader.chunk_text
