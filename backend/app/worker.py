"""The Celery app and its one task: save an answer the API could not save, retrying with backoff.

Broker: Redis when REDIS_URL is set; otherwise kombu's SQLAlchemy transport on a SQLite file in
DATA_DIR, which needs no server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from celery import Celery, Task
from sqlalchemy.pool import NullPool

from app.core.config import Settings, get_settings
from app.db.session import Database
from app.persistence import persist_answer
from app.schemas.records import AnswerRecord

log = structlog.get_logger("chatstream.worker")

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


async def _persist(database_url: str, record: AnswerRecord) -> None:
    database = Database.from_url(database_url, poolclass=NullPool)
    try:
        await persist_answer(database, record)
    finally:
        await database.dispose()


@celery_app.task(
    bind=True,
    name="chatstream.persist_answer",
    autoretry_for=(Exception,),
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=None,  # the database comes back eventually; an answer is never dropped
)
def persist_answer_task(self: Task[Any, Any], record: dict[str, Any]) -> None:
    answer = AnswerRecord.model_validate(record)
    database_url = (
        self.app.conf.get("chatstream_database_url") or get_settings().resolved_database_url
    )
    try:
        asyncio.run(_persist(database_url, answer))
    except Exception as exc:
        log.warning(
            "answer_save_retry",
            message_id=str(answer.message_id),
            attempt=self.request.retries + 1,
            error_type=type(exc).__name__,
        )
        raise
    log.info(
        "answer_saved_by_worker",
        message_id=str(answer.message_id),
        attempts=self.request.retries + 1,
    )
