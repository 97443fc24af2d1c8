"""What the real-process tests share: one scratch PostgreSQL, Redis, and a pair of servers.

Booting `chatstream serve` takes seconds, so the pair (two processes on two ports, one Redis,
one PostgreSQL database) serves every test here that does not kill it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.database import scratch_postgres_database
from tests.fixtures.rate_limits import RedisTarget, redis_target
from tests.fixtures.serve import ServeProcess, migrate, serve_env, serving


@pytest.fixture(scope="package")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL database of this package's own, made by `chatstream migrate`."""
    with scratch_postgres_database() as url:
        migrate(serve_env(tmp_path_factory.mktemp("migrate"), url))
        yield url


@pytest.fixture(scope="package")
def redis() -> Iterator[RedisTarget]:
    """Redis at REDIS_TEST_URL; every key of an id added to `ids` is deleted at the end."""
    with redis_target() as target:
        yield target


@pytest.fixture(scope="package")
def server_pair(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis: RedisTarget
) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    """Two `chatstream serve` processes on two ports, sharing Redis and PostgreSQL."""
    a, b = (
        ServeProcess(serve_env(tmp_path_factory.mktemp(name), postgres_url, REDIS_URL=redis.url))
        for name in ("serve-a", "serve-b")
    )
    with serving(a, b):
        yield a, b
