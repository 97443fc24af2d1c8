"""The record of a finished answer: what the final save writes, in-process or through Celery."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class OnboardingAdvance(BaseModel):
    user_id: uuid.UUID
    from_step: int
    step_key: str
    answer: str
    total_steps: int


class AnswerRecord(BaseModel):
    """Everything needed to upsert an assistant message by id, idempotently."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    user_id: uuid.UUID
    reply_to_id: uuid.UUID | None
    created_at: datetime
    content: str
    status: str
    error_code: str | None
    model: str | None
    chunk_count: int
    ttft_ms: int | None
    duration_ms: int
    completed_at: datetime
    chunk_ends: list[int] | None = None
    onboarding: OnboardingAdvance | None = None
    # Write it only over an answer still `streaming`: the save of a process that lost the answer
    # to a survivor (which stored it from the log) must not overwrite the survivor's.
    only_if_unfinished: bool = False
