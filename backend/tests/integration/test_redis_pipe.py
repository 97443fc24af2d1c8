"""Calls pipelined on one Redis connection (app/core/redis_calls.py), against real Redis servers:
each reply reaches its own call, whatever the calls around it do; a lost connection is made
again; a silent Redis fails the calls in the socket timeout; the client's settings hold."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.core.redis_calls import RawCommands, Rider
from app.core.redis_client import connect_redis
from tests.fixtures.processes import redis_server
from tests.fixtures.rate_limits import REDIS_TEST_URL, redis_target

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def client() -> AsyncIterator[Redis]:
    """redis-py's client on the test database, and the keys of the test's own prefix."""
    with redis_target():
        redis = connect_redis(REDIS_TEST_URL)
        try:
            yield redis
        finally:
            await redis.aclose()


def prefix() -> str:
    return f"test:pipe:{uuid.uuid4()}"


async def test_many_calls_at_once_each_get_their_own_reply(client: Redis) -> None:
    calls = RawCommands(client)
    key = prefix()
    try:
        replies = await asyncio.gather(
            *(calls.command("SET", f"{key}:{n}", n, "GET") for n in range(300)),
            *(calls.command("ECHO", f"echo {n}") for n in range(300)),
        )
        assert replies[:300] == [None] * 300
        assert replies[300:] == [f"echo {n}".encode() for n in range(300)]
        again = await asyncio.gather(*(calls.command("GET", f"{key}:{n}") for n in range(300)))
        assert again == [str(n).encode() for n in range(300)]
    finally:
        await client.delete(*[f"{key}:{n}" for n in range(300)])
        await calls.close()


async def test_a_call_given_up_does_not_shift_the_replies_of_the_calls_after_it(
    client: Redis,
) -> None:
    calls = RawCommands(client)
    key = prefix()
    try:
        # Redis answers the blocking pop only after 0.3 s; the caller gives up before.
        blocked = asyncio.ensure_future(calls.command("BLPOP", f"{key}:empty", 0.3))
        await asyncio.sleep(0.05)
        blocked.cancel()
        after = await calls.command("ECHO", "mine")
        assert after == b"mine"  # not the pop's nil, which came first and was dropped
        assert await calls.command("INCR", key) == 1
    finally:
        await client.delete(key)
        await calls.close()


async def test_an_error_reply_fails_its_own_call_only(client: Redis) -> None:
    calls = RawCommands(client)
    key = prefix()
    try:
        await client.set(key, "text")
        outcomes: tuple[Any, ...] = await asyncio.gather(
            calls.command("INCR", key), calls.command("ECHO", "fine"), return_exceptions=True
        )
        wrong, right = outcomes
        assert isinstance(wrong, ResponseError) and "not an integer" in str(wrong)
        assert right == b"fine"
    finally:
        await client.delete(key)
        await calls.close()


async def test_a_script_flushed_from_redis_runs_again_from_its_source(client: Redis) -> None:
    calls = RawCommands(client)
    key = prefix()
    add = calls.script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    try:
        assert await add(keys=[key], args=[2]) == 2
        await client.script_flush()
        assert await add(keys=[key], args=[3]) == 5
    finally:
        await client.delete(key)
        await calls.close()


async def test_a_connection_killed_by_redis_is_made_again_for_the_next_call(
    client: Redis,
) -> None:
    calls = RawCommands(client)
    try:
        first = await calls.command("CLIENT", "ID")
        assert await client.client_kill_filter(_id=first) == 1
        await asyncio.sleep(0.05)
        assert await calls.command("ECHO", "back") == b"back"
        assert await calls.command("CLIENT", "ID") != first
    finally:
        await calls.close()


async def test_a_call_in_flight_when_the_calls_close_fails_and_connects_no_more() -> None:
    """Closing is for good: the call waiting on the connection fails, and is not sent again
    on a new connection that nobody would close."""
    name = f"pipe-close-{uuid.uuid4().hex[:8]}"
    with redis_target():
        redis = Redis.from_url(REDIS_TEST_URL, client_name=name)
        calls = RawCommands(redis)
        try:
            waiting = asyncio.ensure_future(calls.command("BLPOP", f"{prefix()}:empty", 2))
            await asyncio.sleep(0.1)  # sent, and blocked in Redis
            await calls.close()
            with pytest.raises(ConnectionError):
                await asyncio.wait_for(waiting, 1.0)
            with pytest.raises(ConnectionError):
                await calls.command("PING")
            await asyncio.sleep(0.1)
            async with Redis.from_url(REDIS_TEST_URL) as onlooker:
                connected = [c for c in await onlooker.client_list() if c.get("name") == name]
            assert connected == []
        finally:
            await calls.close()
            await redis.aclose()


async def test_the_clients_database_is_the_one_written() -> None:
    with redis_target():
        url = REDIS_TEST_URL.rsplit("/", 1)[0] + "/13"
        redis = connect_redis(url)
        calls = RawCommands(redis)
        key = prefix()
        try:
            await calls.command("SET", key, "in thirteen")
            assert await redis.get(key) == b"in thirteen"
            other = connect_redis(url.rsplit("/", 1)[0] + "/12")
            try:
                assert await other.get(key) is None
            finally:
                await other.aclose()
        finally:
            await redis.delete(key)
            await calls.close()
            await redis.aclose()


async def test_a_redis_with_a_password_is_called_with_it_and_refuses_a_wrong_one() -> None:
    with redis_server(password="s3cret pass") as server:
        right = connect_redis(server.url.replace("s3cret pass", "s3cret%20pass"))
        wrong = connect_redis(server.url.replace("s3cret pass", "wrong"))
        try:
            assert await RawCommands(right).command("PING") == b"PONG"
            with pytest.raises(ResponseError, match="WRONGPASS|invalid password"):
                await RawCommands(wrong).command("PING")
        finally:
            await right.aclose()
            await wrong.aclose()


async def test_a_silent_redis_fails_every_waiting_call_in_the_timeout_then_recovers() -> None:
    with redis_server() as server:
        redis = Redis.from_url(server.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        calls = RawCommands(redis)
        try:
            assert await calls.command("PING") == b"PONG"
            server.process.send_signal(signal.SIGSTOP)  # holds its connections, answers nothing
            loop = asyncio.get_running_loop()
            started = loop.time()
            outcomes = await asyncio.gather(
                *(calls.command("PING") for _ in range(5)), return_exceptions=True
            )
            waited = loop.time() - started
            assert all(isinstance(outcome, RedisTimeoutError) for outcome in outcomes), outcomes
            assert 0.4 <= waited < 3.0, waited
            server.process.send_signal(signal.SIGCONT)
            assert await calls.command("ECHO", "awake") == b"awake"
        finally:
            server.process.send_signal(signal.SIGCONT)
            await calls.close()
            await redis.aclose()


async def test_a_redis_that_is_gone_is_a_connection_error_at_once() -> None:
    with redis_server() as server:
        redis = connect_redis(server.url)
        calls = RawCommands(redis)
        try:
            assert await calls.command("PING") == b"PONG"
            server.kill()
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(ConnectionError):
                await calls.command("PING")
            assert loop.time() - started < 1.0
            with pytest.raises(ConnectionError):  # and again: nothing is left waiting
                await calls.command("PING")
        finally:
            await calls.close()
            await redis.aclose()


# A first script that returns 1 when its key held "yes", and records what it was given.
_FIRST = """
redis.call('SET', KEYS[2], table.concat(KEYS, ',') .. '|' .. table.concat(ARGV, ','))
if redis.call('GET', KEYS[1]) == 'yes' then return 1 end
return 0
"""
_RECORDING_RIDER = (
    "redis.call('SET', KEYS[1], table.concat(KEYS, ',') .. '|' .. table.concat(ARGV, ','))"
)


async def test_a_rider_runs_in_the_same_call_only_when_the_first_scripts_outcome_allows(
    client: Redis,
) -> None:
    """Each script of the pair sees its own keys and arguments only, whatever their counts;
    the reply is the first one's outcome and the rider's, or None if it did not run."""
    calls = RawCommands(client)
    key = prefix()
    gate, seen_first, seen_rider = f"{key}:gate", f"{key}:first", f"{key}:rider"
    first = calls.script(_FIRST)
    try:
        rider = Rider(_RECORDING_RIDER, [seen_rider], ["r1", "r2", "r3"])
        assert await first.carrying([gate, seen_first], ["a1"], rider) == (0, None)
        assert await client.get(seen_first) == f"{gate},{seen_first}|a1".encode()
        assert await client.get(seen_rider) is None  # refused: the rider did not run

        await client.set(gate, "yes")
        assert await first.carrying([gate, seen_first], [], rider) == (1, 1)
        assert await client.get(seen_first) == f"{gate},{seen_first}|".encode()
        assert await client.get(seen_rider) == f"{seen_rider}|r1,r2,r3".encode()

        await client.delete(seen_rider)
        no_args = Rider(_RECORDING_RIDER, [seen_rider], [])
        assert await first.carrying([gate, seen_first], ["a1", "a2"], no_args) == (1, 1)
        assert await client.get(seen_first) == f"{gate},{seen_first}|a1,a2".encode()
        assert await client.get(seen_rider) == f"{seen_rider}|".encode()

        assert await first([gate, seen_first], ["alone"]) == 1  # without a rider, as before
        assert await client.get(seen_first) == f"{gate},{seen_first}|alone".encode()
    finally:
        await client.delete(gate, seen_first, seen_rider)
        await calls.close()


async def test_riders_nest_and_a_script_can_say_when_they_ride(client: Redis) -> None:
    """A rider carrying another (an admission carrying a claim) rides on a script whose own
    condition is not an outcome of 1 (the send lock's take: taken, and no turn yet)."""
    calls = RawCommands(client)
    key = prefix()
    taken, inner, outer = f"{key}:taken", f"{key}:inner", f"{key}:outer"
    take = calls.script(
        "return {tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[1])}",
        rides_when="outcome[1] == 1 and outcome[2] == 0",
    )
    admit = Rider("redis.call('SET', KEYS[1], ARGV[1]) return tonumber(ARGV[2])", [outer], [])
    claim = Rider("redis.call('SET', KEYS[1], ARGV[1])", [inner], ["claimed"])
    try:
        admits = Rider(admit.source, [outer], ["admitted", 1])
        assert await take.carrying([taken], [0], admits.carrying(claim)) == ([0, 0], None)
        await client.set(taken, 1)
        assert await take.carrying([taken], [3], admits.carrying(claim)) == ([1, 3], None)
        assert await client.get(outer) is None
        assert await take.carrying([taken], [0], admits.carrying(claim)) == ([1, 0], [1, 1])
        assert (await client.get(outer), await client.get(inner)) == (b"admitted", b"claimed")

        await client.delete(outer, inner)
        refuses = Rider(admit.source, [outer], ["refused", 0])
        assert await take.carrying([taken], [0], refuses.carrying(claim)) == ([1, 0], [0])
        assert (await client.get(outer), await client.get(inner)) == (b"refused", None)
    finally:
        await client.delete(taken, inner, outer)
        await calls.close()
