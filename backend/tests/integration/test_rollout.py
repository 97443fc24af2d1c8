"""The streaming rollout flag: off by default, a stable per-user bucket, announced by GET /config,
and enforced by the stream endpoints and stream tokens while the non-streaming path still works."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from app.core.config import Settings
from app.rollout import rollout_bucket, streaming_enabled_for
from tests.fixtures.accounts import Account, new_account, new_client_id
from tests.fixtures.environment import BACKEND_DIR, clean_env
from tests.fixtures.server import AppFactory, assert_error, make_settings, running_app
from tests.fixtures.streams import ONBOARDING_STREAM_PATH, STREAM_PATH, stream_params

pytestmark = pytest.mark.timeout(60)


def random_ids(count: int, seed: int) -> list[uuid.UUID]:
    rng = random.Random(seed)
    return [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(count)]


def rollout(percent: int, enabled: bool = True) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, enable_streaming=enabled, streaming_rollout_percent=percent
    )


async def config_says(client: httpx.AsyncClient, account: Account) -> bool:
    response = await client.get("/api/v1/config", headers=account.auth)
    assert response.status_code == 200, response.text
    enabled: bool = response.json()["streaming_enabled"]
    return enabled


async def assert_streaming_refused(client: httpx.AsyncClient, account: Account) -> None:
    """403 streaming_disabled from the stream token route and both stream routes, nothing stored."""
    refusals = [
        await client.post("/api/v1/chat/stream-token", headers=account.auth),
        await client.get(STREAM_PATH, params=stream_params(account.access_token)),
        await client.get(ONBOARDING_STREAM_PATH, params=stream_params(account.access_token)),
    ]
    for response in refusals:
        error = assert_error(response, 403, "streaming_disabled")
        assert "/chat/message" in error["message"], error  # says what to use instead
    chats = await client.get("/api/v1/chat/conversations?kind=chat", headers=account.auth)
    assert chats.json()["items"] == []


async def assert_non_streaming_works(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.post(
        "/api/v1/chat/message",
        json={"message": "Hello", "client_message_id": new_client_id()},
        headers=account.auth,
    )
    assert response.status_code == 200, response.text
    assert response.json()["assistant_message"]["status"] == "complete"


# The bucket ------------------------------------------------------------------------------------


def test_streaming_is_off_unless_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENABLE_STREAMING", "STREAMING_ROLLOUT_PERCENT"):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert defaults.enable_streaming is False
    assert not any(streaming_enabled_for(defaults, user) for user in random_ids(500, 1))
    switched_off = rollout(100, False)
    assert not any(streaming_enabled_for(switched_off, u) for u in random_ids(500, 2))


def test_zero_percent_is_nobody_and_a_hundred_is_everyone() -> None:
    users = random_ids(2000, 3)
    nobody, everyone = rollout(0), rollout(100)
    assert not any(streaming_enabled_for(nobody, user) for user in users)
    assert all(streaming_enabled_for(everyone, user) for user in users)


@pytest.mark.parametrize("percent", [1, 5, 25, 50, 90])
def test_about_p_percent_of_many_users_get_streaming(percent: int) -> None:
    users = random_ids(20_000, percent)
    settings = rollout(percent)
    share = sum(streaming_enabled_for(settings, u) for u in users) / len(users)
    # 20,000 draws: the standard deviation is at most 0.35 points; allow about 4 of them.
    assert abs(share - percent / 100) < 0.015, share


def test_raising_the_percentage_only_adds_users() -> None:
    users = random_ids(5000, 4)
    previous: set[uuid.UUID] = set()
    for percent in (0, 5, 25, 50, 100):
        settings = rollout(percent)
        current = {u for u in users if streaming_enabled_for(settings, u)}
        assert previous <= current
        previous = current


def test_a_users_bucket_is_the_same_in_every_process() -> None:
    users = random_ids(200, 5)
    here = [rollout_bucket(u) for u in users]
    assert here == [rollout_bucket(u) for u in users]
    assert len(set(here)) > 50  # spread over the buckets, not constant
    script = (
        "import json, sys, uuid\n"
        "from app.rollout import rollout_bucket\n"
        "print(json.dumps([rollout_bucket(uuid.UUID(u)) for u in json.loads(sys.argv[1])]))\n"
    )
    for seed in ("0", "12345"):  # different hash seeds: Python's hash() would differ
        result = subprocess.run(
            [sys.executable, "-c", script, json.dumps([str(u) for u in users])],
            cwd=BACKEND_DIR,
            env=clean_env(PYTHONHASHSEED=seed),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == here


# The API -----------------------------------------------------------------------------------------


async def test_with_streaming_off_the_stream_routes_refuse_and_messages_still_work(
    sqlite_app_factory: AppFactory,
) -> None:
    async with sqlite_app_factory(enable_streaming=False) as h:
        account = await new_account(h.client)
        assert await config_says(h.client, account) is False
        await assert_streaming_refused(h.client, account)
        await assert_non_streaming_works(h.client, account)


async def test_config_and_stream_routes_follow_each_users_bucket(
    sqlite_app_factory: AppFactory, tmp_path: Path, sqlite_url: str
) -> None:
    async with sqlite_app_factory(enable_streaming=True, streaming_rollout_percent=50) as h:
        accounts: list[Account] = []
        while len({rollout_bucket(a.uuid) < 50 for a in accounts}) < 2:  # one on each side
            assert len(accounts) < 30, "thirty users all on one side of 50 %"
            accounts.append(await new_account(h.client))
        expected = {a.id: rollout_bucket(a.uuid) < 50 for a in accounts}
        for account in accounts:
            assert await config_says(h.client, account) is expected[account.id]
            assert await config_says(h.client, account) is expected[account.id]  # stable
        inside = next(a for a in accounts if expected[a.id])
        outside = next(a for a in accounts if not expected[a.id])
        await assert_streaming_refused(h.client, outside)
        await assert_non_streaming_works(h.client, outside)
        token = await h.client.post("/api/v1/chat/stream-token", headers=inside.auth)
        assert token.status_code == 200, token.text
        # httpx's ASGITransport buffers the response: fine for a short, finished stream.
        stream = await h.client.get(STREAM_PATH, params=stream_params(token.json()["token"]))
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert '"type":"complete"' in stream.text

    # Another app instance on the same database gives every user the same answer.
    settings = make_settings(
        tmp_path, database_url=sqlite_url, enable_streaming=True, streaming_rollout_percent=50
    )
    async with running_app(settings) as other:
        for account in accounts:
            assert await config_says(other.client, account) is expected[account.id]
