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
    return celery_app


def enqueue(task_name: str, *args: Any) -> None:
    """Queue a task by its name (blocking: call it in a thread from async code)."""
    celery_app.send_task(task_name, args=args)
