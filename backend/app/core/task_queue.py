"""The Celery app, configured from the settings; tasks are sent by name, registered by the worker.

Broker: Redis when REDIS_URL is set; otherwise kombu's SQLAlchemy transport on a SQLite file in
DATA_DIR, which needs no server. Sending by name (`send_task`) keeps the sender free of the
worker's imports: the worker module imports what its tasks call, never the other way round.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from app.core.config import Settings

PERSIST_ANSWER_TASK = "chatstream.persist_answer"
# With Redis as broker, a save a worker has received but not finished (waiting for its retry's
# countdown, at most 30 s, or running) is held in Redis as unacknowledged, and put back in the
# queue for any worker after this long. kombu's default is an hour. A worker that loses its
# broker connection while holding such saves can crash before it puts them back (kombu's
# Redis transport fails in `restore_unacked` on a dropped connection), and its saves then wait
# for this timeout: a minute, not an hour. It must stay above the longest countdown plus a save,
# or a save still waiting in a live worker would run twice (harmless: a save is idempotent).
UNACKED_SAVE_TIMEOUT_S = 60

celery_app = Celery("chatstream")


def configure_celery(settings: Settings) -> Celery:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    celery_app.conf.update(
        broker_url=settings.resolved_broker_url,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        chatstream_database_url=settings.resolved_database_url,
    )
    redis_broker = settings.resolved_broker_url.startswith(("redis://", "rediss://"))
    celery_app.conf.broker_transport_options = (
        {
            "visibility_timeout": UNACKED_SAVE_TIMEOUT_S,
            # Looked for every 5 s (kombu's default looks every 10 s × a throttle of 10).
            "unacked_restore_interval": 5,
            "unacked_restore_throttle": 1,
        }
        if redis_broker
        else {}
    )
    return celery_app


def enqueue(task_name: str, *args: Any) -> None:
    """Queue a task by its name (blocking: call it in a thread from async code)."""
    celery_app.send_task(task_name, args=args)
