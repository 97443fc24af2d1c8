"""Rate limits: concurrent streams and messages per hour per user, 429 with Retry-After and a JSON
error on every entry point, replays that never count, leases given back however a stream ends,
and, with Redis, the same limits held atomically across OS processes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.core.config import Settings
from app.core.redis_calls import Rider
from app.services.rate_limits import RateLimiter, RedisStreamSlots
from app.streaming.redis_log import OWNERS_KEY
from tests.fixtures.accounts import Account, new_account, new_client_id, stream_token
from tests.fixtures.models import directed_model
from tests.fixtures.rate_limits import RacerPool, process_holding_a_lease, redis_target
from tests.fixtures.server import AppFactory, assert_error
from tests.fixtures.streams import (
    ONBOARDING_STREAM_PATH,
    STREAM_PATH,
    StreamReader,
    read_stream,
    start_stream,
    stream_params,
)
from tests.fixtures.waiting import poll_until, poll_value

pytestmark = pytest.mark.timeout(90)


def assert_rate_limited(response: httpx.Response, max_retry_after: int = 3600) -> int:
    assert_error(response, 429, "rate_limited")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= max_retry_after, retry_after
    return retry_after


async def every_entry_point(client: httpx.AsyncClient, account: Account) -> list[httpx.Response]:
    """A new message through each route that can start one (and a stream token)."""
    token = account.access_token
    return [
        await client.post("/api/v1/chat/stream-token", headers=account.auth),
        await client.get(STREAM_PATH, params=stream_params(token, "new")),
        await client.get(ONBOARDING_STREAM_PATH, params=stream_params(token, "new")),
        await client.post(
            "/api/v1/chat/message",
            json={"message": "new", "client_message_id": new_client_id()},
            headers=account.auth,
        ),
        await client.post(
            "/api/v1/chat/onboarding-message",
            json={"message": "new", "client_message_id": new_client_id()},
            headers=account.auth,
        ),
    ]


async def chat_count(client: httpx.AsyncClient, account: Account) -> int:
    response = await client.get("/api/v1/chat/conversations?kind=chat", headers=account.auth)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


# In process ------------------------------------------------------------------------------------


async def test_streams_past_the_concurrency_limit_are_refused_until_one_ends(
    sqlite_server_factory: AppFactory,
) -> None:
    async with sqlite_server_factory(
        model=directed_model(), rate_limit_concurrent_streams=2
    ) as server:
        async with server.client() as client:
            account = await new_account(client)
            other = await new_account(client)
            token = await stream_token(client, account)
            first_params = stream_params(token, "[stall@1]")
            first, first_task = start_stream(client, first_params)
            second, second_task = start_stream(client, stream_params(token, "[stall@1]"))
            await poll_until(lambda: first.count("chunk") == 1 == second.count("chunk"), 10)
            chats_before = await chat_count(client, account)

            for response in await every_entry_point(client, account):
                assert_rate_limited(response, max_retry_after=60)
            assert await chat_count(client, account) == chats_before  # nothing was stored
            # Another user is not affected; a reconnect to a running answer is not a new one.
            assert (await client.post("/api/v1/chat/stream-token", headers=other.auth)).is_success
            reconnect, reconnect_task = start_stream(client, first_params)
            await poll_until(lambda: reconnect.count("chunk") == 1, 10)
            assert reconnect.message_id == first.message_id

            cancel = await client.post(
                f"/api/v1/chat/messages/{first.message_id}/cancel", headers=account.auth
            )
            assert cancel.status_code == 202
            await asyncio.wait_for(asyncio.gather(first_task, reconnect_task), 10)
            admitted = await poll_value(
                lambda: client.post("/api/v1/chat/stream-token", headers=account.auth),
                lambda r: r.status_code == 200,
                timeout_s=5,
            )
            third = await read_stream(client, stream_params(admitted.json()["token"], "plain"))
            assert third.types[-1] == "complete"
            await client.post(
                f"/api/v1/chat/messages/{second.message_id}/cancel", headers=account.auth
            )
            await asyncio.wait_for(second_task, 10)


async def test_messages_past_the_hourly_limit_get_429_and_replays_never_count(
    sqlite_server_factory: AppFactory,
) -> None:
    async with sqlite_server_factory(
        model=directed_model(), rate_limit_messages_per_hour=3, rate_limit_concurrent_streams=10
    ) as server:
        async with server.client() as client:
            account = await new_account(client)
            body = {"message": "first", "client_message_id": new_client_id()}
            sent = await client.post("/api/v1/chat/message", json=body, headers=account.auth)
            assert sent.status_code == 200, sent.text
            stream_request = stream_params(account.access_token, "second")
            streamed = await read_stream(client, stream_request)
            assert streamed.types[-1] == "complete"
            # Replays of both, through both paths, many times: none is a new message.
            for _ in range(4):
                again = await client.post("/api/v1/chat/message", json=body, headers=account.auth)
                assert again.status_code == 200, again.text
                assert (
                    again.json()["assistant_message"]["id"]
                    == (sent.json()["assistant_message"]["id"])
                )
                replay = await read_stream(client, stream_request)
                assert replay.status_code == 200 and replay.message_id == streamed.message_id
            third = await client.post(
                "/api/v1/chat/message",
                json={"message": "third", "client_message_id": new_client_id()},
                headers=account.auth,
            )
            assert third.status_code == 200, third.text
            chats = await chat_count(client, account)

            refusals = await every_entry_point(client, account)
            retry_afters = [assert_rate_limited(r) for r in refusals]
            assert all(r > 3000 for r in retry_afters), retry_afters  # the window is an hour
            assert await chat_count(client, account) == chats
            replay = await read_stream(client, stream_request)  # still fine at the limit
            assert replay.status_code == 200 and replay.types[-1] == "complete"
            # Watching an answer is not a send: its token is issued at the limit too.
            watch_token = await client.post(
                "/api/v1/chat/stream-token", params={"purpose": "watch"}, headers=account.auth
            )
            assert watch_token.status_code == 200, watch_token.text
            watched = await read_stream(
                client,
                {"token": watch_token.json()["token"]},
                path=f"/api/v1/chat/messages/{streamed.message_id}/stream",
            )
            assert watched.chunk_text == streamed.chunk_text


async def test_a_lease_is_given_back_however_the_stream_ends(
    sqlite_server_factory: AppFactory,
) -> None:
    async def slot_free(client: httpx.AsyncClient, limiter: Any, account: Account) -> None:
        await poll_value(lambda: limiter.slots.in_use(account.uuid), lambda n: n == 0, 5)
        response = await client.post("/api/v1/chat/stream-token", headers=account.auth)
        assert response.status_code == 200, response.text

    async def while_running(
        client: httpx.AsyncClient, stream: StreamReader, account: Account
    ) -> None:
        await poll_until(lambda: stream.count("chunk") >= 1, 10)
        refused = await client.post("/api/v1/chat/stream-token", headers=account.auth)
        assert_rate_limited(refused, max_retry_after=60)  # the one slot is taken

    one_slot: dict[str, Any] = {"rate_limit_concurrent_streams": 1}
    # Timeouts on a server of their own: elsewhere, a stall must not time out before its end.
    async with sqlite_server_factory(
        model=directed_model(), stream_idle_timeout_s=0.4, **one_slot
    ) as server:
        async with server.client() as client:
            account = await new_account(client)
            token = account.access_token
            timed_out, task = start_stream(client, stream_params(token, "[stall@1]"))
            await while_running(client, timed_out, account)
            await asyncio.wait_for(task, 10)
            assert timed_out.terminal["code"] == "timeout"
            await slot_free(client, server.app.state.limiter, account)

    async with sqlite_server_factory(
        model=directed_model(), stream_disconnect_grace_s=0.1, **one_slot
    ) as server:
        limiter = server.app.state.limiter
        async with server.client() as client:
            complete = await read_stream(client, stream_params(token, "plain"))
            assert complete.terminal["type"] == "complete"
            await slot_free(client, limiter, account)
            failed = await read_stream(client, stream_params(token, "[fail@1]"))
            assert failed.terminal["code"] == "llm_error"
            await slot_free(client, limiter, account)
            cancelled, task = start_stream(client, stream_params(token, "[stall@1]"))
            await while_running(client, cancelled, account)
            await client.post(
                f"/api/v1/chat/messages/{cancelled.message_id}/cancel", headers=account.auth
            )
            await asyncio.wait_for(task, 10)
            assert cancelled.terminal["code"] == "cancelled"
            await slot_free(client, limiter, account)
            cut = await read_stream(client, stream_params(token, "[stall@1]"), stop_after=2)
            assert cut.types == ["start", "chunk"]
            await slot_free(client, limiter, account)
            failing_post = await client.post(
                "/api/v1/chat/message",
                json={"message": "[fail@0]", "client_message_id": new_client_id()},
                headers=account.auth,
            )
            assert failing_post.status_code == 502
            await slot_free(client, limiter, account)


# Redis: across OS processes ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def racers() -> Iterator[RacerPool]:
    """Five OS processes, started once for the tests below."""
    with redis_target():  # fails or skips before any process starts
        pass
    pool = RacerPool(5)
    try:
        yield pool
    finally:
        pool.close()


def test_redis_never_admits_more_concurrent_streams_than_the_limit_across_processes(
    racers: RacerPool,
) -> None:
    with redis_target() as redis:
        user = redis.new_id()
        held: list[int] = []

        async def in_use() -> int:
            slots = RedisStreamSlots(3, redis.url)
            try:
                return await slots.in_use(user)
            finally:
                await slots.close()

        admitted = racers.race(
            redis.url,
            user,
            attempts=6,
            concurrent=3,
            hourly=1000,
            release=False,
            while_held=lambda: held.append(asyncio.run(in_use())),
        )
    assert sum(admitted) == 3, admitted
    assert held == [3]


def test_redis_hourly_window_never_admits_more_than_the_limit_across_processes(
    racers: RacerPool,
) -> None:
    with redis_target() as redis:
        user = redis.new_id()
        admitted = racers.race(redis.url, user, attempts=6, concurrent=1000, hourly=7, release=True)
    assert sum(admitted) == 7, admitted


def _redis_limiter(url: str, *, concurrent_streams: int, messages_per_hour: int) -> RateLimiter:
    return RateLimiter(
        Settings(
            _env_file=None,
            redis_url=url,
            rate_limit_concurrent_streams=concurrent_streams,
            rate_limit_messages_per_hour=messages_per_hour,
        )
    )


async def test_a_redis_admission_takes_both_limits_or_neither() -> None:
    """One script call admits a message: a refusal for either limit leaves the other untouched,
    and the same lease admitted twice (a call repeated on a new connection) counts once."""
    from app.core.errors import RateLimited

    with redis_target() as redis:
        user = redis.new_id()
        limiter = _redis_limiter(redis.url, concurrent_streams=1, messages_per_hour=2)
        try:
            first = uuid.uuid4()
            async with limiter.lease(user, first) as lease:
                lease.keep()
            async with limiter.lease(user, first) as again:  # the same lease: not counted again
                again.keep()
            assert await limiter.slots.in_use(user) == 1
            with pytest.raises(RateLimited, match="answers in progress"):
                async with limiter.lease(user, uuid.uuid4()):
                    pass
            await lease.release()
            assert await limiter.hourly.test(user)  # the refused ones were not counted: 1 of 2
            async with limiter.lease(user, uuid.uuid4()):
                pass  # the second message of the hour; its slot given back on exit
            assert await limiter.slots.in_use(user) == 0
            with pytest.raises(RateLimited, match="messages per hour") as refused:
                async with limiter.lease(user, uuid.uuid4()):
                    pass
            assert 3500 <= refused.value.retry_after_s <= 3600
            assert await limiter.slots.in_use(user) == 0  # the hour's refusal took no slot
            assert not await limiter.hourly.test(user)
        finally:
            await limiter.close()


async def test_a_rider_runs_with_a_redis_admission_and_never_with_a_refusal() -> None:
    from app.core.errors import RateLimited

    with redis_target() as redis:
        user = redis.new_id()
        marks = f"test:admitted:{user}"
        limiter = _redis_limiter(redis.url, concurrent_streams=1, messages_per_hour=5)
        client = Redis.from_url(redis.url, decode_responses=True)

        def marking(lease_id: uuid.UUID) -> Rider:
            return Rider("redis.call('SADD', KEYS[1], ARGV[1])", [marks], [str(lease_id)])

        try:
            first = uuid.uuid4()
            async with limiter.lease(user, first, marking(first)) as lease:
                assert lease.rode
                lease.keep()
            with pytest.raises(RateLimited, match="answers in progress"):
                async with limiter.lease(user, uuid.uuid4(), marking(uuid.uuid4())):
                    pass
            assert await client.smembers(marks) == {str(first)}  # type: ignore[misc]
            await lease.release()
            async with limiter.lease(user, uuid.uuid4()) as plain:
                assert not plain.rode  # no rider given
        finally:
            await client.delete(marks)
            await client.aclose()
            await limiter.close()


async def test_a_redis_lease_of_a_process_that_died_expires_so_the_user_is_not_locked_out() -> None:
    ttl_s = 1.5
    with redis_target() as redis:
        user = redis.new_id()
        slots = RedisStreamSlots(1, redis.url, lease_ttl_s=ttl_s)
        try:
            with process_holding_a_lease(redis.url, user, ttl_s) as holder:
                assert await slots.in_use(user) == 1
                assert not await slots.acquire(user, uuid.uuid4())
                holder.kill()  # no release, no clean shutdown
                holder.wait(5)
                died = time.monotonic()
            assert await slots.in_use(user) == 1  # not freed by the death itself...
            await poll_value(lambda: slots.in_use(user), lambda n: n == 0, timeout_s=ttl_s + 3)
            assert time.monotonic() - died <= ttl_s + 3  # ...but by the lease running out
            assert await slots.acquire(user, uuid.uuid4())
        finally:
            await slots.close()


async def test_a_redis_lease_held_by_a_running_stream_outlives_its_ttl() -> None:
    ttl_s = 1.0
    with redis_target() as redis:
        user = redis.new_id()
        slots = RedisStreamSlots(1, redis.url, lease_ttl_s=ttl_s)
        lease = uuid.uuid4()
        try:
            assert await slots.acquire(user, lease)
            deadline = time.monotonic() + 2.5 * ttl_s  # past the lease and its key's expiry
            while time.monotonic() < deadline:
                assert await slots.in_use(user) == 1
                assert not await slots.acquire(user, uuid.uuid4())
                await asyncio.sleep(ttl_s / 4)
            await slots.release(user, lease)
            assert await slots.in_use(user) == 0
        finally:
            await slots.close()


async def test_servers_sharing_redis_enforce_one_limit_together(
    sqlite_server_factory: AppFactory,
) -> None:
    with redis_target() as redis:
        settings: dict[str, Any] = {"redis_url": redis.url, "rate_limit_concurrent_streams": 1}
        async with (
            sqlite_server_factory(model=directed_model(), **settings) as first,
            sqlite_server_factory(model=directed_model(), **settings) as second,
        ):
            async with first.client() as a, second.client() as b:
                account = await new_account(a)
                redis.ids.append(account.id)
                stream, task = start_stream(a, stream_params(account.access_token, "[stall@1]"))
                await poll_until(lambda: stream.count("chunk") == 1, 10)
                refused = await b.post("/api/v1/chat/stream-token", headers=account.auth)
                assert_rate_limited(refused, max_retry_after=60)
                writers = await _answer_writers(redis.url)
                assert stream.message_id in writers  # claimed in its admission's call
                other = await b.get(STREAM_PATH, params=stream_params(account.access_token))
                assert_rate_limited(other, max_retry_after=60)
                assert await _answer_writers(redis.url) == writers  # refused: nothing claimed
                await a.post(
                    f"/api/v1/chat/messages/{stream.message_id}/cancel", headers=account.auth
                )
                await asyncio.wait_for(task, 10)
                admitted = await poll_value(
                    lambda: b.post("/api/v1/chat/stream-token", headers=account.auth),
                    lambda r: r.status_code == 200,
                    timeout_s=5,
                )
                done = await read_stream(b, stream_params(admitted.json()["token"], "plain"))
                assert done.types[-1] == "complete"


async def _answer_writers(url: str) -> dict[str, str]:
    """Scaled mode's owner leases: each answer in flight and the process that writes it."""
    client = Redis.from_url(url, decode_responses=True)
    try:
        return await client.hgetall(OWNERS_KEY)  # type: ignore[misc]
    finally:
        await client.aclose()


async def test_a_burst_of_opens_past_a_hundred_at_once_is_admitted_not_refused() -> None:
    """Hundreds of sends arriving together each make their rate-limit calls at once. A client
    capped at redis-py's default 100 connections failed the 101st call at once ("Too many
    connections"), and those users were told the stream log was unreachable."""
    with redis_target() as redis:
        limiter = _redis_limiter(redis.url, concurrent_streams=5, messages_per_hour=50)
        try:
            users = [redis.new_id() for _ in range(400)]
            await asyncio.gather(*(limiter.check(user) for user in users))

            async def admitted(user: uuid.UUID) -> None:
                async with limiter.lease(user, uuid.uuid4()):
                    pass

            await asyncio.gather(*(admitted(user) for user in users))
            assert all([await limiter.hourly.test(user) for user in users[:10]])
        finally:
            await limiter.close()
