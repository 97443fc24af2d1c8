"""Scaled mode in one event loop: two app instances share a database and a real Redis.

Each instance is a full app behind its own uvicorn server (live_server); what one writes, the
other serves, stops and watches through the Redis stream log. Killing processes is in
tests/processes/test_durable_streams.py.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.exc import OperationalError

from app.core.redis_client import REDIS_TIMEOUT_S
from app.db.session import Database, UnitOfWork
from app.llm.scripted import ScriptedChatModel
from app.orchestration.cluster import StreamCluster
from app.orchestration.readers import StreamHandle, stream_handle
from app.services import turns
from app.streaming.events import ChunkEvent, StartEvent
from app.streaming.generation import StopReason
from app.streaming.leases import StreamLeases
from app.streaming.manager import StreamManager
from app.streaming.redis_log import (
    LIVE_KEY,
    OWNERS_KEY,
    READ_BLOCK_S,
    UNLOGGED_LEAD,
    StreamLog,
    last_entry,
    log_key,
)
from app.streaming.sse import EventId, encode_chunk, encode_event
from tests.fixtures.accounts import Account, new_account, stream_token
from tests.fixtures.database import DbProbe, finished
from tests.fixtures.models import scripted_model, words
from tests.fixtures.rate_limits import RedisTarget, redis_target
from tests.fixtures.server import AppFactory, LiveServer, make_settings
from tests.fixtures.streams import (
    StreamReader,
    assert_well_formed,
    read_stream,
    start_stream,
    stream_params,
)

pytestmark = pytest.mark.asyncio

CHUNKS = 40
DEAD_ANSWERS = 12
T = TypeVar("T")


def slow_model() -> ScriptedChatModel:
    return scripted_model(words(CHUNKS), delay_s=0.03)


@pytest.fixture
def redis() -> Iterator[RedisTarget]:
    with redis_target() as target:
        yield target


async def _pair(
    factory: AppFactory, redis: RedisTarget, model: ScriptedChatModel
) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    async with AsyncExitStack() as stack:
        servers = [
            await stack.enter_async_context(
                factory(model, redis_url=redis.url, stream_owner_lease_s=1.0)
            )
            for _ in range(2)
        ]
        yield servers[0], servers[1]


@pytest.fixture
async def pair(
    sqlite_server_factory: AppFactory, redis: RedisTarget
) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    """Two instances on one SQLite file and one Redis."""
    async for servers in _pair(sqlite_server_factory, redis, slow_model()):
        yield servers


@pytest.fixture
async def stalling_pair(
    sqlite_server_factory: AppFactory, redis: RedisTarget
) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    """The same, with answers that fall silent after 10 chunks until stopped: a Stop always
    finds its answer still being written, however slowly a busy machine carries it there."""
    model = scripted_model(words(CHUNKS), delay_s=0.03, stall_after=10)
    async for servers in _pair(sqlite_server_factory, redis, model):
        yield servers


def _client(server: LiveServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, timeout=20)


async def _account(server: LiveServer) -> Account:
    async with _client(server) as client:
        return await new_account(client)


async def test_a_stream_dropped_on_one_instance_resumes_exactly_on_the_other(
    pair: tuple[LiveServer, LiveServer], sqlite_url: str
) -> None:
    a, b = pair
    account = await _account(a)
    async with _client(a) as client_a, _client(b) as client_b:
        params = stream_params(await stream_token(client_a, account))
        first = await read_stream(client_a, params, stop_after=5)
        params["token"] = await stream_token(client_b, account)
        rest = await read_stream(
            client_b, params, headers={"Last-Event-ID": first.events[-1].id or ""}
        )
    events = first.events + rest.events
    ids = [event.id for event in events]
    message_id = first.message_id
    assert ids == [f"{message_id}:{seq}" for seq in range(len(ids))]
    assert rest.payloads[-1]["type"] == "complete"
    async with DbProbe(sqlite_url) as probe:
        stored = await probe.wait_for_message(message_id, finished)
    text = "".join(e.json["content"] for e in events if e.json["type"] == "chunk")
    assert stored.content == text
    assert stored.chunk_count == CHUNKS


async def test_cancel_on_the_other_instance_is_fenced(
    stalling_pair: tuple[LiveServer, LiveServer], sqlite_url: str
) -> None:
    a, b = stalling_pair
    account = await _account(a)
    async with _client(a) as client_a, _client(b) as client_b:
        reader, task = start_stream(client_a, stream_params(await stream_token(client_a, account)))
        await reader.wait_for_events(6)
        response = await client_b.post(
            f"/api/v1/chat/messages/{reader.message_id}/cancel", headers=account.auth
        )
        events_at_ack = len(reader.events)
        await asyncio.wait_for(task, 10)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    assert result["status"] == "cancelled"
    # Nothing after the acknowledgement but what it names: the terminal event.
    assert reader.events[-1].id == result["last_event_id"]
    assert len(reader.events) - events_at_ack <= 1
    assert reader.terminal["code"] == "cancelled"
    assert reader.chunk_text == result["content"]
    async with DbProbe(sqlite_url) as probe:
        stored = await probe.message(reader.message_id)
    assert stored is not None
    assert (stored.status, stored.content) == ("cancelled", result["content"])


async def test_watching_from_the_other_instance_sees_the_same_events(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    a, b = pair
    account = await _account(a)
    async with _client(a) as client_a, _client(b) as client_b:
        reader, task = start_stream(client_a, stream_params(await stream_token(client_a, account)))
        await reader.wait_for_events(3)
        watched = await read_stream(
            client_b,
            {"token": await stream_token(client_b, account)},
            path=f"/api/v1/chat/messages/{reader.message_id}/stream",
        )
        await asyncio.wait_for(task, 10)
        again = await client_b.get(
            f"/api/v1/chat/messages/{reader.message_id}/stream",
            params={
                "token": await stream_token(client_b, account),
                "last_event_id": watched.events[-1].id or "",
            },
        )
    assert_well_formed(watched)
    assert watched.text.split("\n\n", 1)[1] == reader.text.split("\n\n", 1)[1]
    assert again.status_code == 204


async def test_someone_elses_answer_is_not_found(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    owner, other = await _account(a), await _account(b)
    async with _client(a) as client_a, _client(b) as client_b:
        reader = await read_stream(client_a, stream_params(await stream_token(client_a, owner)))
        watch = await client_b.get(
            f"/api/v1/chat/messages/{reader.message_id}/stream",
            params={"token": await stream_token(client_b, other)},
        )
        cancel = await client_b.post(
            f"/api/v1/chat/messages/{reader.message_id}/cancel", headers=other.auth
        )
    assert watch.status_code == 404
    assert cancel.status_code == 404


async def test_a_reader_on_the_other_instance_keeps_the_answer_alive(
    sqlite_server_factory: AppFactory, redis: RedisTarget, sqlite_url: str
) -> None:
    settings = {"redis_url": redis.url, "stream_disconnect_grace_s": 0.3}
    async with (
        sqlite_server_factory(slow_model(), **settings) as a,
        sqlite_server_factory(slow_model(), **settings) as b,
    ):
        account = await _account(a)
        async with _client(a) as client_a, _client(b) as client_b:
            first, writer_side = start_stream(
                client_a, stream_params(await stream_token(client_a, account))
            )
            await first.wait_for_events(3)
            watched, watching = start_stream(
                client_b,
                {"token": await stream_token(client_b, account)},
                path=f"/api/v1/chat/messages/{first.message_id}/stream",
            )
            # The watcher is surely counted once it has read an event; only then does the
            # writer's reader leave, so the grace window never depends on how fast B attaches.
            await watched.wait_for_events(1)
            writer_side.cancel()
            with pytest.raises(asyncio.CancelledError):
                await writer_side
            await asyncio.wait_for(watching, 10)
    assert not first.ended_by_server
    assert watched.payloads[-1]["type"] == "complete"
    async with DbProbe(sqlite_url) as probe:
        stored = await probe.message(first.message_id)
    assert stored is not None and stored.status == "complete"


async def test_stop_before_the_send_arrives_stores_it_cancelled(
    pair: tuple[LiveServer, LiveServer], sqlite_url: str
) -> None:
    a, b = pair
    account = await _account(a)
    async with _client(a) as client_a, _client(b) as client_b:
        params = stream_params(await stream_token(client_a, account))
        stop = await client_b.post(
            "/api/v1/chat/cancel",
            json={"client_message_id": params["client_message_id"]},
            headers=account.auth,
        )
        reader = await read_stream(client_a, params)
    assert stop.status_code == 202, stop.text
    assert stop.json()["message_id"] is None
    assert reader.terminal["code"] == "cancelled"
    async with DbProbe(sqlite_url) as probe:
        stored = await probe.message(reader.message_id)
    assert stored is not None and stored.status == "cancelled"


async def test_stop_by_client_message_id_while_generating(
    stalling_pair: tuple[LiveServer, LiveServer],
) -> None:
    a, b = stalling_pair
    account = await _account(a)
    async with _client(a) as client_a, _client(b) as client_b:
        params = stream_params(await stream_token(client_a, account))
        reader, task = start_stream(client_a, params)
        await reader.wait_for_events(4)
        stop = await client_b.post(
            "/api/v1/chat/cancel",
            json={"client_message_id": params["client_message_id"]},
            headers=account.auth,
        )
        await asyncio.wait_for(task, 10)
    assert stop.json()["message_id"] == reader.message_id
    assert stop.json()["last_event_id"] == reader.events[-1].id
    assert reader.terminal["code"] == "cancelled"


async def test_a_stop_reaches_a_process_that_heard_nothing_for_longer_than_its_socket_timeout(
    stalling_pair: tuple[LiveServer, LiveServer],
) -> None:
    a, b = stalling_pair
    account = await _account(a)
    await asyncio.sleep(READ_BLOCK_S + REDIS_TIMEOUT_S + 1)  # every connection idle that long
    async with _client(a) as client_a, _client(b) as client_b:
        reader, task = start_stream(client_a, stream_params(await stream_token(client_a, account)))
        await reader.wait_for_events(4)
        asked = time.monotonic()
        response = await client_b.post(
            f"/api/v1/chat/messages/{reader.message_id}/cancel", headers=account.auth
        )
        answered_s = time.monotonic() - asked
        await asyncio.wait_for(task, 10)
    assert response.json()["status"] == "cancelled"
    # On a quiet machine the answer comes in tens of milliseconds (the issue asks for half a
    # second); the fault this guards against, a stop lost on a connection that timed out, costs
    # a socket timeout or more. Half of one tells the two apart even on a busy CI machine, where
    # both servers share the test's event loop with everything else it runs.
    assert answered_s < REDIS_TIMEOUT_S / 2, f"the cancel took {answered_s:.2f} s"


async def test_an_answer_left_streaming_with_no_lease_is_ended_at_start_up(
    sqlite_server_factory: AppFactory, redis: RedisTarget, sqlite_url: str
) -> None:
    # An answer of a process that died while Redis lost its data: `streaming`, no lease, no log.
    async with sqlite_server_factory(slow_model()) as embedded:
        async with _client(embedded) as client:
            account = await _account(embedded)
            done = await read_stream(client, stream_params(await stream_token(client, account)))
    async with DbProbe(sqlite_url) as probe:
        await probe.set_status(done.message_id, "streaming")
        async with sqlite_server_factory(slow_model(), redis_url=redis.url):
            stored = await probe.wait_for_message(done.message_id, finished, timeout_s=5)
    assert stored.status == "interrupted"
    assert stored.content == done.chunk_text  # what the database held is kept


class QueuedUnits(Database):
    """The app's database behind a busy pool: each unit of work waits its turn first. Counts
    the units waiting or running at once. While `away` is set, every unit fails as a database
    that went away does."""

    def __init__(self, inner: Database, wait_s: float = 0.0) -> None:
        self.inner = inner
        self.wait_s = wait_s
        self.away = False
        self.at_once = 0
        self.most_at_once = 0

    async def run(self, work: UnitOfWork[T]) -> T:
        if self.away:
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        try:
            await asyncio.sleep(self.wait_s)
            return await self.inner.run(work)
        finally:
            self.at_once -= 1

    async def dispose(self) -> None:
        await self.inner.dispose()


async def _answers_of_a_dead_process(
    server_factory: AppFactory, redis: RedisTarget, sqlite_url: str, count: int
) -> dict[uuid.UUID, str]:
    """`count` answers stored `streaming` whose logs a process wrote before it died (its
    leases lapsed): each answer's id and the text of its log."""
    async with server_factory(scripted_model(words(2))) as embedded:
        async with _client(embedded) as client:
            account = await _account(embedded)
            answers = []
            for _ in range(count):
                params = stream_params(await stream_token(client, account))
                answers.append(uuid.UUID((await read_stream(client, params)).message_id))
    async with DbProbe(sqlite_url) as probe:
        for answer in answers:
            await probe.set_status(answer, "streaming")
    client_of_dead = Redis.from_url(redis.url)
    dead = StreamLeases(client_of_dead, owner_token="dead", lease_s=0.5, on_lost=_ignore)
    dead_log = StreamLog(client_of_dead, owner_token="dead", done_ttl_s=30, on_lost=_ignore)
    dead_log.start()
    logged: dict[uuid.UUID, str] = {}
    for answer in answers:
        redis.ids.append(str(answer))
        await dead.claim(answer)
        buffer = dead_log.buffer(answer, first_seq=1)  # its start was never logged
        parts = [f"{answer.hex[:6]} part {index}. " for index in range(3)]
        for index, part in enumerate(parts):
            buffer.append(encode_chunk(f"id: {answer}:", index + 1, part, index))
        logged[answer] = "".join(parts)
    await dead_log.close()
    await client_of_dead.aclose()
    await asyncio.sleep(0.6)  # the dead process renews nothing: its leases lapse
    return logged


async def _assert_recovered(logged: dict[uuid.UUID, str], redis: RedisTarget, url: str) -> None:
    """Each answer stored `interrupted` with its log's text, its log ended by the error event:
    past the lead its writer's clients may have had, with the text kept."""
    async with DbProbe(url) as probe:
        for answer, text in logged.items():
            stored = await probe.message(answer)
            assert stored is not None and stored.status == "interrupted"
            assert stored.content == text
    checker = Redis.from_url(redis.url)
    try:
        for answer, text in logged.items():
            # The log's last event was chunk 3.
            assert await last_entry(checker, answer) == (3 + 1 + UNLOGGED_LEAD, True)
            ending = await _last_event(checker, answer)
            assert (ending["type"], ending["code"], ending["content"]) == (
                "error",
                "internal",
                text,
            )
            # The survivor's terminal write let go of the lease: nobody owns an ended answer.
            assert await checker.hget(OWNERS_KEY, str(answer)) is None
            assert await checker.zscore(LIVE_KEY, str(answer)) is None
    finally:
        await checker.aclose()


async def test_a_dead_processs_answers_are_recovered_several_at_once(
    sqlite_server_factory: AppFactory, redis: RedisTarget, sqlite_url: str, tmp_path: Path
) -> None:
    logged = await _answers_of_a_dead_process(sqlite_server_factory, redis, sqlite_url, 12)
    settings = make_settings(tmp_path, redis_url=redis.url, database_url=sqlite_url)
    database = QueuedUnits(Database.from_url(sqlite_url), wait_s=0.05)
    survivor = StreamCluster(Redis.from_url(redis.url), settings, db=database)
    survivor.log.start()
    try:
        await survivor.recover_lapsed()
    finally:
        await survivor.close()
        await database.dispose()
    # Not one by one: a busy database no longer makes the last reader wait for all the others.
    assert database.most_at_once > 1
    await _assert_recovered(logged, redis, sqlite_url)


async def _one_answer(server_factory: AppFactory, word_count: int) -> StreamReader:
    """An answer of `word_count` words, streamed whole by an embedded server."""
    async with server_factory(scripted_model(words(word_count))) as embedded:
        async with _client(embedded) as client:
            account = await _account(embedded)
            return await read_stream(client, stream_params(await stream_token(client, account)))


async def _last_event(redis: Redis, answer: uuid.UUID) -> dict[str, Any]:
    """The data of the last event in the answer's log."""
    entries = cast(
        list[tuple[bytes, dict[bytes, bytes]]], await redis.xrevrange(log_key(answer), count=1)
    )
    data: dict[str, Any] = json.loads(entries[0][1][b"f"].split(b"data: ", 1)[1])
    return data


async def _claimed_by_a_process_about_to_die(
    redis: RedisTarget, answer: uuid.UUID
) -> tuple[Redis, StreamLog]:
    """The answer's lease, taken by a process that dies soon (close the client): its log."""
    client_of_dead = Redis.from_url(redis.url)
    dead = StreamLeases(client_of_dead, owner_token="dead", lease_s=0.5, on_lost=_ignore)
    redis.ids.append(str(answer))
    await dead.claim(answer)
    return client_of_dead, StreamLog(
        client_of_dead, owner_token="dead", done_ttl_s=30, on_lost=_ignore
    )


@asynccontextmanager
async def _survivor(
    redis: RedisTarget, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[StreamCluster]:
    settings = make_settings(tmp_path, redis_url=redis.url, database_url=sqlite_url)
    database = Database.from_url(sqlite_url)
    survivor = StreamCluster(Redis.from_url(redis.url), settings, db=database)
    survivor.log.start()
    try:
        yield survivor
    finally:
        await survivor.close()
        await database.dispose()


async def test_a_dead_process_that_logged_nothing_still_tells_its_clients_the_end(
    sqlite_server_factory: AppFactory, redis: RedisTarget, sqlite_url: str, tmp_path: Path
) -> None:
    """Its clients may have had the start and a chunk from memory (the writer's own readers do
    not wait for the log): the survivor writes a start and, past their ids, the end."""
    first = await _one_answer(sqlite_server_factory, 2)
    answer = uuid.UUID(first.message_id)
    async with DbProbe(sqlite_url) as probe:
        await probe.set_status(answer, "streaming")
    client_of_dead, dead_log = await _claimed_by_a_process_about_to_die(redis, answer)
    buffer = dead_log.buffer(answer)  # its writer never writes: it dies first
    shown = buffer.read(after_seq=-1, idle_s=30)
    buffer.append(encode_event(answer, 0, StartEvent(**first.events[0].json)))
    buffer.append(encode_event(answer, 1, ChunkEvent(content="lost ", index=0)))
    assert (await anext(shown) or b"").count(b"\n\n") == 2  # its client has both
    await client_of_dead.aclose()
    await asyncio.sleep(0.6)  # its lease lapses
    async with _survivor(redis, sqlite_url, tmp_path) as survivor:
        assert await survivor.recover_lapsed() == 1
        told = [part async for part in survivor.reader(answer).read(after_seq=1, idle_s=5)]
        from_scratch = [part async for part in survivor.reader(answer).read(-1, idle_s=5)]
    async with DbProbe(sqlite_url) as probe:
        stored = await probe.message(answer)
    # What the database held is kept (the scripted answer, stored before it was made `streaming`).
    assert stored is not None and (stored.status, stored.content) == (
        "interrupted",
        first.chunk_text,
    )
    [terminal] = b"".join(p for p in told if p is not None).decode().strip().split("\n\n")
    assert terminal.startswith(f"id: {answer}:{1 + UNLOGGED_LEAD}\n"), terminal
    ending = json.loads(terminal.split("data: ", 1)[1])
    assert (ending["type"], ending["code"], ending["content"]) == (
        "error",
        "internal",
        first.chunk_text,
    )
    events = b"".join(p for p in from_scratch if p is not None).decode().strip().split("\n\n")
    assert [json.loads(e.split("data: ", 1)[1])["type"] for e in events] == ["start", "error"]


async def test_once_a_recovered_answers_log_has_expired_its_end_is_not_told_twice(
    sqlite_server_factory: AppFactory, redis: RedisTarget, sqlite_url: str, tmp_path: Path
) -> None:
    """After STREAM_BUFFER_TTL_S the answer is told from the database. A client that has the
    end the survivor wrote, past the lead, has everything (204), as it had while the log was
    there; a client at the log's last chunk is told the end once."""
    first = await _one_answer(sqlite_server_factory, 2)
    answer = uuid.UUID(first.message_id)
    async with DbProbe(sqlite_url) as probe:
        await probe.set_status(answer, "streaming")
    client_of_dead, dead_log = await _claimed_by_a_process_about_to_die(redis, answer)
    dead_log.start()
    buffer = dead_log.buffer(answer)
    buffer.append(encode_event(answer, 0, StartEvent(**first.events[0].json)))
    for index, part in enumerate(["one ", "two ", "three "]):
        buffer.append(encode_event(answer, index + 1, ChunkEvent(content=part, index=index)))
    await dead_log.close()  # logged, then it dies
    await client_of_dead.aclose()
    await asyncio.sleep(0.6)  # its lease lapses
    recovered_end = 3 + 1 + UNLOGGED_LEAD  # past the lead of the last chunk's id, 3
    database = Database.from_url(sqlite_url)
    streams = StreamManager(idle_timeout_s=30, disconnect_grace_s=5, buffer_ttl_s=30)
    try:
        async with _survivor(redis, sqlite_url, tmp_path) as survivor:
            assert await survivor.recover_lapsed() == 1
            stored = await turns.load_message(database, answer)
            assert stored is not None and stored.status == "interrupted"

            async def resumed_after(seq: int) -> StreamHandle | None:
                return await stream_handle(
                    database, streams, survivor, stored, EventId(answer, seq)
                )

            assert await last_entry(survivor.redis, answer) == (recovered_end, True)
            assert await resumed_after(recovered_end) is None  # from the log
            await survivor.redis.delete(log_key(answer))  # its TTL ran out
            assert await resumed_after(recovered_end) is None  # from the database
            handle = await resumed_after(3)
            assert handle is not None
            told = [part async for part in handle.source.read(handle.after_seq, idle_s=5)]
    finally:
        await database.dispose()
    [ending] = b"".join(p for p in told if p is not None).decode().strip().split("\n\n")
    assert ending.startswith(f"id: {answer}:4\n"), ending
    assert json.loads(ending.split("data: ", 1)[1])["type"] == "error"


async def test_a_dead_processs_continue_is_stored_whole_the_earlier_text_and_the_logged_rest(
    sqlite_server_factory: AppFactory, redis: RedisTarget, sqlite_url: str, tmp_path: Path
) -> None:
    """A Continue's log holds only its own run: the text before it is the stored one."""
    first = await _one_answer(sqlite_server_factory, 3)
    answer = uuid.UUID(first.message_id)
    async with DbProbe(sqlite_url) as probe:
        first_seq = await probe.reopen(answer)
    client_of_dead, dead_log = await _claimed_by_a_process_about_to_die(redis, answer)
    dead_log.start()
    buffer = dead_log.buffer(answer, first_seq)
    prefix = first.chunk_text
    start = StartEvent(
        message_id=str(answer),
        conversation_id=first.events[0].json["conversation_id"],
        user_message_id=first.events[0].json["user_message_id"],
        prefix=prefix,
    )
    buffer.append(encode_event(answer, first_seq, start))
    rest = [" and", " then some"]
    for index, part in enumerate(rest):
        buffer.append(
            encode_event(answer, first_seq + 1 + index, ChunkEvent(content=part, index=3 + index))
        )
    await dead_log.close()
    await client_of_dead.aclose()
    await asyncio.sleep(0.6)  # its lease lapses
    async with _survivor(redis, sqlite_url, tmp_path) as survivor:
        assert await survivor.recover_lapsed() == 1
    whole = prefix + "".join(rest)
    async with DbProbe(sqlite_url) as probe:
        stored = await probe.message(answer)
    assert stored is not None and stored.status == "interrupted"
    assert stored.content == whole
    assert stored.chunk_count == first.count("chunk") + len(rest)
    checker = Redis.from_url(redis.url)
    try:
        assert (await _last_event(checker, answer))["content"] == whole
    finally:
        await checker.aclose()


@pytest.mark.parametrize("database_fault", ["refuses", "hangs"])
async def test_an_answer_the_database_did_not_store_is_recovered_on_the_next_round(
    sqlite_server_factory: AppFactory,
    redis: RedisTarget,
    sqlite_url: str,
    tmp_path: Path,
    database_fault: str,
) -> None:
    logged = await _answers_of_a_dead_process(sqlite_server_factory, redis, sqlite_url, 2)
    settings = make_settings(
        tmp_path, redis_url=redis.url, database_url=sqlite_url, persist_timeout_s=0.3
    )
    database = QueuedUnits(Database.from_url(sqlite_url))
    survivor = StreamCluster(Redis.from_url(redis.url), settings, db=database)
    survivor.log.start()
    try:
        if database_fault == "refuses":
            database.away = True
        else:  # each unit waits far longer than the store may take: a stuck connection
            database.wait_s = 3.0
        with pytest.raises((OperationalError, TimeoutError)):
            await survivor.recover_lapsed()
        # Still the survivor's, renewed: not left to lapse for a whole lease more.
        assert all(survivor.leases.owns(answer) for answer in logged)
        database.away, database.wait_s = False, 0.0
        assert await survivor.recover_lapsed() >= len(logged)
    finally:
        await survivor.close()
        await database.dispose()
    await _assert_recovered(logged, redis, sqlite_url)


def _ignore(_message_id: uuid.UUID, _reason: StopReason) -> None:
    pass
