"""Saving a finished answer: an idempotent write by message id, handed to Celery if it fails."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from enum import StrEnum

import structlog
from sqlalchemy.orm import Session

from app.core.task_queue import PERSIST_ANSWER_TASK, enqueue
from app.db.crud import conversations as conversation_crud
from app.db.crud import messages as message_crud
from app.db.crud import onboarding as onboarding_crud
from app.db.models import Message, MessageStatus, Role
from app.db.session import Database
from app.schemas.records import AnswerRecord

log = structlog.get_logger("chatstream.persistence")


class SaveOutcome(StrEnum):
    SAVED = "saved"
    QUEUED = "queued"
    FAILED = "failed"


def _write_answer(session: Session, record: AnswerRecord) -> None:
    """The answer (and any onboarding advance) in the caller's transaction."""
    save = (
        message_crud.save_unfinished_answer
        if record.only_if_unfinished
        else message_crud.save_answer
    )
    if not save(
        session,
        {
            "id": record.message_id,
            "conversation_id": record.conversation_id,
            "user_id": record.user_id,
            "role": Role.ASSISTANT,
            "reply_to_id": record.reply_to_id,
            "created_at": record.created_at,
            "content": record.content,
            "status": record.status,
            "error_code": record.error_code,
            "model": record.model,
            "chunk_count": record.chunk_count,
            "ttft_ms": record.ttft_ms,
            "duration_ms": record.duration_ms,
            "completed_at": record.completed_at,
            "chunk_ends": record.chunk_ends,
        },
    ):
        return
    conversation_crud.touch_conversation(session, record.conversation_id, record.completed_at)
    if record.onboarding is not None:
        advance = record.onboarding
        onboarding_crud.advance(
            session,
            user_id=advance.user_id,
            from_step=advance.from_step,
            step_key=advance.step_key,
            answer=advance.answer,
            total_steps=advance.total_steps,
            now=record.completed_at,
        )


async def store_if_unfinished(
    db: Database, message_id: uuid.UUID, record_of: Callable[[Message], AnswerRecord]
) -> tuple[Message | None, bool]:
    """Read the answer and, if it is still `streaming`, store `record_of(it)`, in one unit of
    work: the answer as it was read, and whether it was stored now. For recovery, which runs
    for hundreds of answers at once behind a busy database: one wait for it, not two."""

    def work(session: Session) -> tuple[Message | None, bool]:
        stored = message_crud.get_message(session, message_id)
        if stored is None or stored.status != MessageStatus.STREAMING:
            return stored, False
        # A Core UPDATE by id: `stored` keeps what was read.
        _write_answer(session, record_of(stored))
        return stored, True

    return await db.run(work)


async def persist_answer(db: Database, record: AnswerRecord) -> None:
    await db.run(lambda session: _write_answer(session, record))


def _consume_outcome(save: asyncio.Future[None]) -> None:
    # A save abandoned after its timeout may still fail later: nobody awaits it, so retrieve it.
    if not save.cancelled():
        save.exception()


async def save_answer(db: Database, record: AnswerRecord, timeout_s: float) -> SaveOutcome:
    """Save now if the database answers within `timeout_s`; otherwise queue a retrying task."""
    save = asyncio.ensure_future(persist_answer(db, record))
    save.add_done_callback(_consume_outcome)
    try:
        done, _ = await asyncio.wait({save}, timeout=timeout_s)
    except asyncio.CancelledError:
        save.cancel()
        raise
    if save in done and save.exception() is None:
        return SaveOutcome.SAVED
    # Not wait_for: a cancelled save's clean-up can itself wait on the database (SQLite's
    # busy timeout, a stuck connection), and the client must not wait for it.
    save.cancel()
    failure = save.exception() if save.done() else TimeoutError(f"no answer in {timeout_s} s")
    log.warning(  # any failure to save is handed on, never lost
        "answer_save_failed",
        message_id=str(record.message_id),
        error_type=type(failure).__name__,
        error=str(failure)[:300],
    )
    try:
        await asyncio.to_thread(enqueue, PERSIST_ANSWER_TASK, record.model_dump(mode="json"))
        log.info("answer_save_queued", message_id=str(record.message_id))
        return SaveOutcome.QUEUED
    except Exception as exc:
        log.error(
            "answer_save_lost",
            message_id=str(record.message_id),
            error_type=type(exc).__name__,
            error=str(exc)[:300],
        )
        return SaveOutcome.FAILED
