"""The Celery worker's one task: save an answer the API could not save, retrying with backoff.

The API sends it by name (app/core/task_queue.py); this module registers it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from celery import Task
from sqlalchemy.pool import NullPool

from app.core.config import get_settings
from app.core.task_queue import PERSIST_ANSWER_TASK, celery_app, configure_celery
from app.db.session import Database
from app.persistence import persist_answer
from app.schemas.records import AnswerRecord

log = structlog.get_logger("chatstream.worker")

__all__ = ["celery_app", "configure_celery", "persist_answer_task"]


async def _persist(database_url: str, record: AnswerRecord) -> None:
    database = Database.from_url(database_url, poolclass=NullPool)
    try:
        await persist_answer(database, record)
    finally:
        await database.dispose()


@celery_app.task(
    bind=True,
    name=PERSIST_ANSWER_TASK,
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
