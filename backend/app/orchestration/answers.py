"""The end of an answer: its record saved (with any onboarding advance), and what it reports."""

from __future__ import annotations

from app.core.config import Settings
from app.db.base import utcnow
from app.db.models import ConversationKind, MessageStatus
from app.db.session import Database
from app.orchestration import telemetry
from app.persistence import save_answer
from app.schemas.auth import AuthUser
from app.schemas.records import AnswerRecord, OnboardingAdvance
from app.services import onboarding
from app.services.turns import TurnRecord
from app.streaming.events import OnboardingProgress
from app.streaming.generation import GenerationOutcome, StopReason


class AnswerSaver:
    """Saves each finished answer: called once per generation, before its terminal event."""

    def __init__(self, db: Database, settings: Settings, *, model_name: str) -> None:
        self._db = db
        self._settings = settings
        self._model_name = model_name

    async def save(
        self,
        user: AuthUser,
        kind: ConversationKind,
        turn: TurnRecord,
        outcome: GenerationOutcome,
    ) -> OnboardingProgress | None:
        """Save the answer; for onboarding, the progress the `complete` event reports."""
        report: OnboardingProgress | None = None
        advance: OnboardingAdvance | None = None
        if kind is ConversationKind.ONBOARDING and turn.onboarding_step is not None:
            where = onboarding.OnboardingPosition(
                turn.onboarding_step, len(self._settings.onboarding_steps)
            )
            if outcome.status is MessageStatus.COMPLETE:
                advance = onboarding.advance_for(
                    self._settings, user.id, where.step_index, turn.user_message.content
                )
                where = where.after_answer()
            report = where.report()
        assistant = turn.assistant_message
        # Built from values of the types it declares, so not validated again (a tenth of the
        # save's CPU on the loop): `model_construct`. What reaches Celery is its JSON dump.
        record = AnswerRecord.model_construct(
            message_id=assistant.id,
            conversation_id=assistant.conversation_id,
            user_id=user.id,
            reply_to_id=turn.user_message.id,
            created_at=assistant.created_at,
            content=outcome.content,
            status=outcome.status,
            error_code=outcome.error_code,
            model=self._model_name,
            chunk_count=outcome.chunk_count,
            ttft_ms=outcome.ttft_ms,
            duration_ms=outcome.duration_ms,
            completed_at=utcnow(),
            chunk_ends=list(outcome.chunk_ends),
            onboarding=advance,
            only_if_unfinished=outcome.stop_reason is StopReason.OWNER_LOST,
        )
        saved = await save_answer(self._db, record, self._settings.persist_timeout_s)
        telemetry.stream_ended(agent=telemetry.agent_name(kind), outcome=outcome, save=saved)
        return report
