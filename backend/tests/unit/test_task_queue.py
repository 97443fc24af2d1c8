"""The Celery configuration: a save stranded in Redis comes back soon, and never runs early."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.task_queue import UNACKED_SAVE_TIMEOUT_S, configure_celery
from app.worker import persist_answer_task
from tests.fixtures.server import make_settings


@pytest.fixture(autouse=True)
def _embedded_broker_afterwards(tmp_path: Path) -> Iterator[None]:
    """The Celery app is the process's own: leave it as the embedded default configures it."""
    yield
    configure_celery(make_settings(tmp_path, redis_url=None))


def test_a_stranded_save_returns_to_the_queue_within_a_minute_with_redis(tmp_path: Path) -> None:
    app = configure_celery(make_settings(tmp_path, redis_url="redis://127.0.0.1:6379/13"))
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] == UNACKED_SAVE_TIMEOUT_S <= 60
    # Every few seconds, not kombu's default of every 10 s × 10.
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 10


def test_a_save_waiting_for_its_retry_is_never_put_back_while_it_waits() -> None:
    # A save's countdown is at most retry_backoff_max; it runs for at most a few seconds. The
    # timeout must cover both, or a live worker's waiting save would run a second time early.
    longest_wait_s = persist_answer_task.retry_backoff_max
    assert UNACKED_SAVE_TIMEOUT_S >= 2 * longest_wait_s


def test_no_redis_options_reach_the_embedded_broker(tmp_path: Path) -> None:
    configure_celery(make_settings(tmp_path, redis_url="redis://127.0.0.1:6379/13"))
    app = configure_celery(make_settings(tmp_path, redis_url=None))
    assert app.conf.broker_url.startswith("sqla+sqlite")
    assert app.conf.broker_transport_options == {}
