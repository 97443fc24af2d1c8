"""What a stream tells operators: one log line and the metrics at its start and at its end."""

from __future__ import annotations

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


def stream_started(*, agent: str) -> None:
    """Context (user, message, conversation, model) is bound by the caller's contextvars."""
    ACTIVE_STREAMS.inc()
    log.info("stream_started", agent=agent)


def stream_ended(*, agent: str, outcome: GenerationOutcome, save: SaveOutcome) -> None:
    ACTIVE_STREAMS.dec()
    STREAMS_TOTAL.labels(agent=agent, status=outcome.status).inc()
    STREAM_DURATION.labels(agent=agent, status=outcome.status).observe(outcome.duration_ms / 1000)
    STREAM_CHUNKS.labels(agent=agent).observe(outcome.chunk_count)
    if outcome.ttft_ms is not None:
        STREAM_TTFT.labels(agent=agent).observe(outcome.ttft_ms / 1000)
    DB_SAVES.labels(outcome=save).inc()
    if outcome.error_code is not None and outcome.status is MessageStatus.ERROR:
        STREAM_ERRORS.labels(code=outcome.error_code).inc()
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
