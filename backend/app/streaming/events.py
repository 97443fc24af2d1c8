"""The SSE protocol's event payloads (DESIGN.md §3), defined once.

Events, in order, on one stream:
- ``start``: the answer's message id, its conversation and the user message it answers;
- ``chunk``: a piece of the answer, ``index`` counting from 0;
- exactly one terminal event: ``complete`` (with onboarding progress on onboarding streams)
  or ``error`` (``code`` one of ErrorCode, ``retryable`` telling the client whether to offer Retry).

Besides them, status events without an id, outside the numbered sequence (never stored, never
replayed): ``queued``, the answer's place in the queue for a model that writes one answer at a
time, sent while it waits, whenever the place changes and again to a reader that attaches.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel


class ErrorCode(StrEnum):
    LLM_ERROR = "llm_error"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    INTERNAL = "internal"
    CANCELLED = "cancelled"


class OnboardingProgress(BaseModel):
    progress: float
    completed: bool


class StartEvent(BaseModel):
    type: Literal["start"] = "start"
    message_id: str
    conversation_id: str
    user_message_id: str
    # A Continue: the answer so far, which this run's chunks follow.
    prefix: str | None = None


class ChunkEvent(BaseModel):
    type: Literal["chunk"] = "chunk"
    content: str
    index: int


class CompleteEvent(BaseModel):
    type: Literal["complete"] = "complete"
    message_id: str
    conversation_id: str
    chunks: int
    finish_reason: str
    onboarding: OnboardingProgress | None = None
    # A Continue: the whole answer, the stored part and this run's.
    content: str | None = None


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    retryable: bool
    message_id: str | None = None
    # The answer as stored, when the reader had been sent more than was kept (replay.py).
    content: str | None = None


class QueuedEvent(BaseModel):
    type: Literal["queued"] = "queued"
    # 1: the next answer the model writes.
    position: int
    message_id: str


StreamEvent = StartEvent | ChunkEvent | CompleteEvent | ErrorEvent
TerminalEvent = CompleteEvent | ErrorEvent
StatusEvent = QueuedEvent
