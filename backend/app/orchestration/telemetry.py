"""What a stream tells operators: one log line and the metrics at its start and at its end."""

from __future__ import annotations

import functools
from typing import Any

import structlog

from app.agents.conversational import ConversationalAgent
from app.agents.onboarding import OnboardingAgent
from app.core.metrics import (
    ACTIVE_STREAMS,
    DB_SAVES,
    STREAM_CHUNKS,
    STREAM_DURATION,
    STREAM_ERRORS,
    STREAM_TTFT,
    STREAMS_TOTAL,
)
from app.db.models import ConversationKind, MessageStatus
from app.persistence import SaveOutcome
from app.streaming.events import ErrorCode
from app.streaming.generation import GenerationOutcome, StopReason

log = structlog.get_logger("chatstream.streaming")

_CLEANUP_REASONS = {
    MessageStatus.COMPLETE: "complete",
    MessageStatus.CANCELLED: "cancelled",
    MessageStatus.INTERRUPTED: "disconnected",
}


def agent_name(kind: ConversationKind) -> str:
    """The `agent` label of a conversation kind's streams."""
    return OnboardingAgent.name if kind is ConversationKind.ONBOARDING else ConversationalAgent.name


def cleanup_reason(outcome: GenerationOutcome) -> str:
    if outcome.status is MessageStatus.ERROR:
        return "timeout" if outcome.error_code is ErrorCode.TIMEOUT else "error"
    if outcome.stop_reason is StopReason.SHUTDOWN:
        return "shutdown"
    return _CLEANUP_REASONS.get(outcome.status, str(outcome.status))


@functools.cache
def _child(metric: Any, *values: str) -> Any:
    """A metric's child for these label values (in the order its labels are declared), made
    once: `labels()` checks, converts and looks the values up under a lock on every call, six
    times a stream. The values come from a few enums and names, so the cache stays small."""
    return metric.labels(*values)


def stream_started(*, agent: str) -> None:
    """Context (user, message, conversation, model) is bound by the caller's contextvars."""
    ACTIVE_STREAMS.inc()
    log.info("stream_started", agent=agent)


def stream_ended(*, agent: str, outcome: GenerationOutcome, save: SaveOutcome) -> None:
    ACTIVE_STREAMS.dec()
    status = outcome.status
    _child(STREAMS_TOTAL, agent, status).inc()
    _child(STREAM_DURATION, agent, status).observe(outcome.duration_ms / 1000)
    _child(STREAM_CHUNKS, agent).observe(outcome.chunk_count)
    if outcome.ttft_ms is not None:
        _child(STREAM_TTFT, agent).observe(outcome.ttft_ms / 1000)
    _child(DB_SAVES, save).inc()
    if outcome.error_code is not None and status is MessageStatus.ERROR:
        _child(STREAM_ERRORS, outcome.error_code).inc()
    log.info(
        "stream_completed",
        agent=agent,
        status=str(outcome.status),
        duration_ms=outcome.duration_ms,
        ttft_ms=outcome.ttft_ms,
        chunk_count=outcome.chunk_count,
        finish_reason=outcome.finish_reason,
        save=str(save),
    )
    log.info("stream_cleanup", reason=cleanup_reason(outcome))
