"""Scaled mode on real processes: `serve --workers 2` on one port, and two `serve` processes
behind nginx's plain round robin, all on one Redis and one PostgreSQL.

Every request goes out on a connection of its own, so the kernel (or nginx) spreads them over the
processes as it would a browser's. Wherever they land: a stream cut 20 times resumes exactly
with Last-Event-ID, a Stop is fenced (nothing follows its acknowledgement but the terminal event
it names), and a watcher sees the very same events. The cut and watch tests also show that their
streams did reach both processes, so neither passes by luck of the balancing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.fixtures.accounts import Account, new_account, stream_token
from tests.fixtures.database import DbProbe, StoredMessage, finished
from tests.fixtures.nginx import nginx_in_front
from tests.fixtures.rate_limits import RedisTarget
from tests.fixtures.serve import (
    SCRIPTED_CHUNKS,
    ServeProcess,
    client_port,
    serve_env,
    serving,
)
from tests.fixtures.streams import (
    STREAM_PATH,
    SSEEvent,
    StreamReader,
    read_stream,
    start_stream,
    stream_params,
)
from tests.fixtures.waiting import poll_until

pytestmark = pytest.mark.timeout(180)

DROP_AFTER_EVENTS = 3
# start, 60 chunks and complete, read 3 events per connection: 20 cuts (or more), then the end.
DROPS = (SCRIPTED_CHUNKS + 2) // DROP_AFTER_EVENTS
TERMINAL = {"complete", "error"}


def watch_path(message_id: str) -> str:
    return f"/api/v1/chat/messages/{message_id}/stream"


@dataclass
class Deployment:
    """Where clients connect, and which process served each stream opened through `note`."""

    base_url: str
    servers: tuple[ServeProcess, ...]
    via_nginx: bool
    opened: list[tuple[str, int | None]] = field(default_factory=list)

    def connect(self) -> httpx.AsyncClient:
        """A client of its own: a new connection, balanced anew."""
        return httpx.AsyncClient(base_url=self.base_url, timeout=30)

    @property
    def spread(self) -> bool:
        """Have the noted streams reached two processes? (nginx's round robin: surely.)"""
        return self.via_nginx or len({pid for _, pid in self.opened}) > 1

    def note(self, response: httpx.Response) -> None:
        """StreamReader's `on_open`: with --workers, the worker holding the connection now."""
        pid = None if self.via_nginx else self.servers[0].pid_serving(client_port(response))
        self.opened.append((response.headers["x-request-id"], pid))

    async def served_by(self) -> list[str]:
        """Who served each noted stream: a worker's pid, or which server's log has its id."""
        if not self.via_nginx:
            return [f"pid {pid}" for _, pid in self.opened]
        logs: list[str] = []

        def every_request_logged() -> bool:
            logs[:] = [server.log for server in self.servers]
            return all(any(rid in log for log in logs) for rid, _ in self.opened)

        await poll_until(every_request_logged, timeout_s=10)
        return [
            next(f"server {i}" for i, log in enumerate(logs) if rid in log)
            for rid, _ in self.opened
        ]


@pytest.fixture(scope="module")
def two_workers(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis: RedisTarget
) -> Iterator[ServeProcess]:
    env = serve_env(tmp_path_factory.mktemp("workers"), postgres_url, REDIS_URL=redis.url)
    with serving(ServeProcess(env, workers=2)) as (server,):
        assert len(server.worker_pids()) == 2
        yield server


@pytest.fixture(params=["two workers", "nginx round robin"])
async def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Deployment]:
    if request.param == "two workers":
        server: ServeProcess = request.getfixturevalue("two_workers")
        yield Deployment(server.base_url, (server,), via_nginx=False)
        return
    pair: tuple[ServeProcess, ServeProcess] = request.getfixturevalue("server_pair")
    async with nginx_in_front([s.port for s in pair], tmp_path / "nginx") as nginx:
        yield Deployment(nginx.base_url, pair, via_nginx=True)


async def _account(deployment: Deployment, redis: RedisTarget) -> Account:
    async with deployment.connect() as client:
        account = await new_account(client)
    redis.ids.append(account.id)
    return account


async def _stored(postgres_url: str, message_id: str, redis: RedisTarget) -> StoredMessage:
    redis.ids.append(message_id)
    async with DbProbe(postgres_url) as probe:
        return await probe.wait_for_message(message_id, finished)


def _assert_told_exactly(events: list[SSEEvent], stored: StoredMessage) -> None:
    """start, chunks, one terminal; ids 0..n without a gap or a repeat; the chunks, the answer."""
    ids = [event.id for event in events]
    assert ids == [f"{stored.id}:{seq}" for seq in range(len(events))], ids
    types = [event.json["type"] for event in events]
    assert types == ["start"] + ["chunk"] * (len(events) - 2) + [types[-1]], types
    assert types[-1] in TERMINAL
    assert "".join(event.json["content"] for event in events[1:-1]) == stored.content


async def test_a_stream_cut_twenty_times_resumes_exactly_wherever_each_reconnect_lands(
    deployment: Deployment, postgres_url: str, redis: RedisTarget
) -> None:
    account = await _account(deployment, redis)
    async with deployment.connect() as client:
        params = stream_params(await stream_token(client, account), "Tell me all of it")
    events: list[SSEEvent] = []
    drops = 0
    while not events or events[-1].json["type"] not in TERMINAL:
        assert drops <= SCRIPTED_CHUNKS + 1, "more cuts than the answer has events"
        headers = {"Last-Event-ID": events[-1].id or ""} if events else {}
        # The kernel favours one of the workers (3 to 1 here): until a reconnect has reached the
        # other, cut after every event, so the answer outlasts enough tries.
        cut_after = DROP_AFTER_EVENTS if deployment.spread else 1
        async with deployment.connect() as client:
            reader = StreamReader(client, STREAM_PATH, params, headers, cut_after)
            reader.on_open = deployment.note
            await reader.run()
        assert reader.status_code == 200, reader.body
        assert reader.events, "a reconnect told nothing"
        events += reader.events
        drops += events[-1].json["type"] not in TERMINAL

    assert drops >= DROPS
    stored = await _stored(postgres_url, events[0].json["message_id"], redis)
    assert stored.status == "complete"
    assert stored.chunk_count == SCRIPTED_CHUNKS
    _assert_told_exactly(events, stored)
    assert events[-1].json["type"] == "complete"
    served_by = await deployment.served_by()
    assert len(served_by) == drops + 1
    assert len(set(served_by)) == 2, served_by  # the sender's process and the other one


async def test_a_stop_from_a_new_connection_is_fenced(
    deployment: Deployment, postgres_url: str, redis: RedisTarget
) -> None:
    account = await _account(deployment, redis)
    async with deployment.connect() as client:
        reader, reading = start_stream(client, stream_params(await stream_token(client, account)))
        await reader.wait_for_events(6)
        cancel_path = f"/api/v1/chat/messages/{reader.message_id}/cancel"
        async with deployment.connect() as other:
            stop = await other.post(cancel_path, headers=account.auth)
        await asyncio.wait_for(reading, 15)
    # Stopped again, on a connection of its own (through nginx: the other process): the same.
    async with deployment.connect() as other:
        again = await other.post(cancel_path, headers=account.auth)

    assert stop.status_code == 202, stop.text
    acknowledged = stop.json()
    assert acknowledged["message_id"] == reader.message_id
    assert acknowledged["status"] == "cancelled"
    stored = await _stored(postgres_url, reader.message_id, redis)
    assert (stored.status, stored.content) == ("cancelled", acknowledged["content"])
    _assert_told_exactly(reader.events, stored)
    # Fenced: the acknowledgement names the stream's last event, which is the terminal one,
    # and every chunk before it is in the stored answer.
    assert reader.events[-1].id == acknowledged["last_event_id"]
    assert reader.terminal["code"] == "cancelled"
    assert reader.ended_by_server
    assert reader.chunk_text == acknowledged["content"] == stored.content
    assert 0 < (stored.chunk_count or 0) < SCRIPTED_CHUNKS
    assert again.status_code == 202, again.text
    assert again.json() == acknowledged


async def test_watchers_on_new_connections_see_the_same_events(
    deployment: Deployment, postgres_url: str, redis: RedisTarget
) -> None:
    account = await _account(deployment, redis)

    async def watch(token: str, message_id: str) -> StreamReader:
        async with deployment.connect() as other:
            path = watch_path(message_id)
            return await StreamReader(other, path, {"token": token}, on_open=deployment.note).run()

    async with deployment.connect() as client:
        token = await stream_token(client, account)
        sender, sending = start_stream(client, stream_params(token))
        sender.on_open = deployment.note
        await sender.wait_for_events(4)
        # While the answer is written, watchers join, each on a connection of its own, until one
        # has landed on a process other than the sender's (at least 4 of them). They come four
        # at once: connections one at a time to an idle server can all be accepted by the same
        # worker (20 of 20 once in CI), while a burst finds the first one busy.
        watching: list[asyncio.Task[StreamReader]] = []
        while len(watching) < 4 or (not deployment.spread and len(watching) < 40):
            watching += [asyncio.create_task(watch(token, sender.message_id)) for _ in range(4)]
            await asyncio.sleep(0.1)
        watchers = await asyncio.wait_for(asyncio.gather(*watching), 15)
        await asyncio.wait_for(sending, 15)
        half = len(sender.events) // 2
        middle = sender.events[half].id or ""
        async with deployment.connect() as other:
            rest = await read_stream(
                other, {"token": token, "last_event_id": middle}, path=watch_path(sender.message_id)
            )
        async with deployment.connect() as other:
            after_the_end = await other.get(
                watch_path(sender.message_id),
                params={"token": token, "last_event_id": sender.events[-1].id or ""},
            )

    stored = await _stored(postgres_url, sender.message_id, redis)
    _assert_told_exactly(sender.events, stored)
    events_text = sender.text.split("\n\n", 1)[1]  # after the `retry:` line
    for watcher in watchers:
        assert watcher.status_code == 200, watcher.body
        assert watcher.text.split("\n\n", 1)[1] == events_text
    assert [e.id for e in rest.events] == [e.id for e in sender.events[half + 1 :]]
    assert after_the_end.status_code == 204
    served_by = await deployment.served_by()
    assert len(set(served_by)) == 2, served_by
