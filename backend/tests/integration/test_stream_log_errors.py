"""A new send when the stream log (Redis) cannot take it: a retryable 503 that says what happened.

Redis here is a server of the test's own, stopped (SIGSTOP: it holds its connections and answers
nothing, as a stalled or overloaded Redis does) or killed (nothing listens any more).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.accounts import new_account, stream_token
from tests.fixtures.processes import RedisServer, redis_server
from tests.fixtures.server import AppFactory, LiveServer
from tests.fixtures.streams import STREAM_PATH, stream_params

pytestmark = pytest.mark.asyncio


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


async def _refused_send(
    factory: AppFactory, redis: RedisServer, stop_redis: signal.Signals
) -> httpx.Response:
    server: LiveServer
    async with factory(redis_url=redis.url) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            account = await new_account(client)
            params = stream_params(await stream_token(client, account))
            if stop_redis is signal.SIGKILL:
                redis.kill()
            else:
                redis.process.send_signal(stop_redis)
            try:
                return await client.get(STREAM_PATH, params=params)
            finally:
                if stop_redis is signal.SIGSTOP:
                    redis.process.send_signal(signal.SIGCONT)


@pytest.mark.parametrize(
    ("stop_redis", "said"),
    [(signal.SIGSTOP, "did not answer in time"), (signal.SIGKILL, "cannot reach")],
    ids=["stalled", "gone"],
)
async def test_a_send_redis_cannot_take_is_refused_saying_why(
    sqlite_server_factory: AppFactory,
    own_redis: RedisServer,
    stop_redis: signal.Signals,
    said: str,
) -> None:
    response = await _refused_send(sqlite_server_factory, own_redis, stop_redis)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "2"
    error = response.json()["error"]
    assert error["code"] == "stream_log_unavailable"
    assert said in error["message"]
