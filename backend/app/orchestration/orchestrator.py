"""Orchestrator: a user's message becomes a stored turn and an answer being generated.

One entry point per conversation kind (`send_chat`, `send_onboarding`). Each stores the turn
first (the user message, then an empty answer) and starts its generation, which outlives any
one connection; a repeated `client_message_id` finds the same turn. How the caller reads the
answer, streamed or whole, is the caller's choice of reader (`stream`, `whole_answer`).

The path of a new message: validate, look the id up, admit it under the rate limits (a lease
held until the answer ends), store it, launch the generation; when it ends, the answer is saved
(app/orchestration/answers.py) and the lease released.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog
from langchain_core.language_models import BaseChatModel

from app.agents.base import BaseAgent, TurnContext
from app.agents.conversational import ConversationalAgent
from app.agents.onboarding import OnboardingAgent
from app.core.config import Settings
from app.core.errors import Conflict, MessageNotFound
from app.db.models import ConversationKind, Role
from app.db.session import Database
from app.llm.factory import ChatModelProvider
from app.orchestration import readers, telemetry
from app.orchestration.answers import AnswerSaver
from app.orchestration.readers import StreamHandle
from app.schemas.auth import AuthUser
from app.schemas.chat import CancelResult, ChatTurnRead
from app.services import turns
from app.services.rate_limits import RateLimiter, StreamLease
from app.streaming.events import OnboardingProgress
from app.streaming.generation import Generation, GenerationOutcome, StopReason
from app.streaming.manager import StreamManager
from app.streaming.sse import EventId


@dataclass(frozen=True, slots=True)
class Send:
    """One send of a user message, as a client made it."""

    text: str
    client_message_id: str
    conversation_id: uuid.UUID | None = None
    regenerate: bool = False
    # Where a reconnecting stream left off: such a request is never a new retry, since
    # EventSource reconnects to the same URL, `regenerate=true` included.
    resume: EventId | None = None

    @property
    def regenerates(self) -> bool:
        return self.regenerate and self.resume is None


@dataclass(frozen=True, slots=True)
class Turn:
    """A send's stored turn, and its conversation kind: what a reader reads the answer of."""

    record: turns.TurnRecord
    kind: ConversationKind
    resume: EventId | None = None

    @property
    def answer_id(self) -> uuid.UUID:
        return self.record.assistant_message.id


class Orchestrator:
    def __init__(
        self,
        *,
        db: Database,
        models: ChatModelProvider,
        streams: StreamManager,
        settings: Settings,
        limiter: RateLimiter,
    ) -> None:
        self.db = db
        self.models = models
        self.streams = streams
        self.settings = settings
        self.limiter = limiter
        self._answers = AnswerSaver(db, settings, model_name=models.name)

    # Entry points -------------------------------------------------------------------------------

    async def send_chat(self, user: AuthUser, send: Send) -> Turn:
        return await self._send(user, ConversationKind.CHAT, send)

    async def send_onboarding(self, user: AuthUser, send: Send) -> Turn:
        """An answer to the current onboarding question; the final save advances the step."""
        return await self._send(user, ConversationKind.ONBOARDING, send)

    async def cancel(self, user: AuthUser, message_id: uuid.UUID) -> CancelResult:
        message = await turns.load_message(self.db, message_id)
        if message is None or message.user_id != user.id or message.role != Role.ASSISTANT:
            raise MessageNotFound()
        generation = self.streams.get(message_id)
        if generation is not None:
            generation.stop(StopReason.CANCELLED)
            outcome = await generation.wait()
            return CancelResult(message_id=message_id, status=outcome.status)
        # Still `streaming` with no generation here: another process is writing it (stream
        # buffers are per process); answers orphaned by a crash are recovered at start-up.
        return CancelResult(message_id=message_id, status=message.status)

    # Readers ------------------------------------------------------------------------------------

    async def stream(self, turn: Turn) -> StreamHandle | None:
        """The answer as a stream, from where the send's `resume` left off."""
        return await readers.stream_handle(self.db, self.streams, turn.record, turn.resume)

    async def whole_answer(self, turn: Turn) -> ChatTurnRead:
        """The answer once it has ended, as stored."""
        return await readers.whole_answer(
            self.db, self.streams, self.settings, turn.record, turn.kind
        )

    # The turn ---------------------------------------------------------------------------------

    async def _send(self, user: AuthUser, kind: ConversationKind, send: Send) -> Turn:
        turns.validate_message_text(send.text, self.settings)
        for _attempt in range(2):
            existing = await turns.find_turn(self.db, user.id, send.text, send.client_message_id)
            if existing is not None and not (send.regenerates and existing.regenerable):
                return Turn(existing, kind, send.resume)
            answer_id = uuid.uuid4()  # the new answer's id, and its stream slot
            async with self.limiter.lease(user.id, answer_id) as lease:
                try:
                    record = await self._store(user, kind, send, existing, answer_id)
                except turns.SentMeanwhile:
                    continue  # another request stored this id first: use its turn
                lease.keep()  # released when the answer ends
            self._launch(user, kind, record, lease)
            return Turn(record, kind, send.resume)
        raise Conflict("This message is being sent by another request.")

    async def _store(
        self,
        user: AuthUser,
        kind: ConversationKind,
        send: Send,
        existing: turns.TurnRecord | None,
        answer_id: uuid.UUID,
    ) -> turns.TurnRecord:
        if existing is not None:  # a retry of a failed answer
            return await turns.regenerate_turn(
                self.db,
                self.settings,
                user,
                existing,
                assistant_id=answer_id,
                model_name=self.models.name,
            )
        return await turns.store_turn(
            self.db,
            self.settings,
            turns.NewTurn(
                user=user,
                kind=kind,
                text=send.text,
                client_message_id=send.client_message_id,
                conversation_id=send.conversation_id,
                model_name=self.models.name,
                assistant_id=answer_id,
            ),
        )

    def _launch(
        self,
        user: AuthUser,
        kind: ConversationKind,
        record: turns.TurnRecord,
        lease: StreamLease,
    ) -> Generation:
        assistant = record.assistant_message
        agent = telemetry.agent_name(kind)
        # Bound here, copied into the generation task: every line it logs carries this context.
        with structlog.contextvars.bound_contextvars(
            user_id=str(user.id),
            message_id=str(assistant.id),
            conversation_id=str(assistant.conversation_id),
            agent=agent,
            model=self.models.name,
        ):
            telemetry.stream_started(agent=agent)

            async def finalise(outcome: GenerationOutcome) -> OnboardingProgress | None:
                try:
                    return await self._answers.save(user, kind, record, outcome)
                finally:
                    await lease.release()

            return self.streams.start(
                message_id=assistant.id,
                conversation_id=assistant.conversation_id,
                user_message_id=record.user_message.id,
                chunks=self._answer_chunks(kind, record.context),
                finalise=finalise,
            )

    # The model's answer -------------------------------------------------------------------------

    def _agent(self, kind: ConversationKind, model: BaseChatModel) -> BaseAgent:
        if kind is ConversationKind.ONBOARDING:
            return OnboardingAgent(model, self.settings.onboarding_steps)
        return ConversationalAgent(model, self.settings.chat_history_char_budget)

    def _answer_chunks(self, kind: ConversationKind, context: TurnContext) -> AsyncIterator[str]:
        model = self.models.loaded
        if model is not None:  # the agent's stream itself: no layer in between on every chunk
            return self._agent(kind, model).stream_response(context)
        return self._answer_chunks_once_loaded(kind, context)

    async def _answer_chunks_once_loaded(
        self, kind: ConversationKind, context: TurnContext
    ) -> AsyncIterator[str]:
        # Loaded inside the generation: a model that fails to load ends the stream with an error.
        model = await self.models.get()
        async for piece in self._agent(kind, model).stream_response(context):
            yield piece
