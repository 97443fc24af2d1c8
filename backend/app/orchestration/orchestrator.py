"""Orchestrator: a user's message becomes a stored turn and an answer being generated.

One entry point per conversation kind (`send_chat`, `send_onboarding`). Each stores the turn
first (the user message, then an empty answer) and starts its generation, which outlives any
one connection; a repeated `client_message_id` finds the same turn. How the caller reads the
answer, streamed or whole, is the caller's choice of reader (`stream`, `whole_answer`).

The path of a new message: validate, look the id up, admit it under the rate limits (a lease
held until the answer ends), store it, launch the generation; when it ends, the answer is saved
(app/orchestration/answers.py) and the lease released. With Redis, a new id's admission and its
answer's claim by this process ride on the call that takes the id's send lock (one round trip
for the three), and are undone if the id turns out to have its turn stored already.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import structlog
from langchain_core.language_models import BaseChatModel
from redis.exceptions import RedisError

from app.agents.base import BaseAgent, TurnContext
from app.agents.conversational import ConversationalAgent
from app.agents.onboarding import OnboardingAgent
from app.core.config import Settings
from app.core.errors import Conflict, MessageNotFound
from app.db.models import ConversationKind, Message, MessageStatus, Role
from app.db.session import Database
from app.llm.factory import ChatModelProvider
from app.orchestration import readers, telemetry
from app.orchestration.answers import AnswerSaver
from app.orchestration.cluster import StreamCluster
from app.orchestration.readers import StreamHandle
from app.orchestration.send_locks import HeldSend, SendLocks
from app.schemas.auth import AuthUser, TokenUser
from app.schemas.chat import CancelResult, ChatTurnRead, MessageRead
from app.services import turns, versions
from app.services.rate_limits import RateLimiter, StreamLease
from app.streaming import replay
from app.streaming.events import OnboardingProgress
from app.streaming.generation import Continued, Generation, GenerationOutcome, StopReason
from app.streaming.leases import StreamLeases
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
        cluster: StreamCluster | None = None,
    ) -> None:
        self.db = db
        self.models = models
        self.streams = streams
        self.settings = settings
        self.limiter = limiter
        self.cluster = cluster
        self._answers = AnswerSaver(db, settings, model_name=models.name)
        self._send_locks = SendLocks(cluster.redis if cluster is not None else None)

    async def close(self) -> None:
        await self._send_locks.close()

    # Entry points -------------------------------------------------------------------------------

    # A sender may be known by its token only (`TokenUser`, the stream routes): its account is
    # read in the send's first unit of work, which looks the client_message_id up.

    async def send_chat(self, user: AuthUser | TokenUser, send: Send) -> Turn:
        return await self._send(user, ConversationKind.CHAT, send)

    async def send_onboarding(self, user: AuthUser | TokenUser, send: Send) -> Turn:
        """An answer to the current onboarding question; the final save advances the step."""
        return await self._send(user, ConversationKind.ONBOARDING, send)

    async def cancel(self, user: AuthUser, message_id: uuid.UUID) -> CancelResult:
        """Stop the answer wherever it is generated; once it is stored and its terminal event
        written (nothing follows on any stream), what was kept."""
        return await self._stop(await self._users_answer(user, message_id))

    async def cancel_send(self, user: AuthUser, client_message_id: str) -> CancelResult:
        """Stop the answer to a send named by its client_message_id (a Stop before `start`).

        A send that has not reached the server yet is remembered as stopped: when it arrives,
        its answer is stored `cancelled` without generating. Whichever of the two writes first,
        the other then sees it, so no stop is lost between them.
        """
        answer = await turns.find_answer(self.db, user.id, client_message_id)
        if answer is None:
            await self._send_locks.remember_stop(user.id, client_message_id)
            answer = await turns.find_answer(self.db, user.id, client_message_id)
            if answer is None:
                return CancelResult(
                    message_id=None, status=MessageStatus.CANCELLED, content="", last_event_id=None
                )
        return await self._stop(answer)

    async def _stop(self, answer: Message) -> CancelResult:
        generation = self.streams.get(answer.id)
        if generation is not None and self.cluster is not None and generation.done.is_set():
            generation = None  # an earlier run kept here: a Continue may run elsewhere now
        if generation is not None:
            generation.stop(StopReason.CANCELLED)
            outcome = await generation.wait()
            if self.cluster is not None:
                await self.cluster.log.flushed(answer.id)
            return CancelResult(
                message_id=answer.id,
                status=outcome.status,
                content=outcome.content,
                last_event_id=str(EventId(answer.id, generation.buffer.next_seq - 1)),
            )
        terminal: int | None = None
        if self.cluster is not None and answer.status == MessageStatus.STREAMING:
            terminal = await self.cluster.stop_elsewhere(answer.id)
            answer = await turns.load_message(self.db, answer.id) or answer
        if answer.status == MessageStatus.STREAMING:  # nobody writes it and nothing ended it
            return CancelResult(message_id=answer.id, status=answer.status, content=answer.content)
        if terminal is None:
            terminal = replay.terminal_seq(answer)
        return CancelResult(
            message_id=answer.id,
            status=answer.status,
            content=answer.content,
            last_event_id=str(EventId(answer.id, terminal)),
        )

    async def _users_answer(self, user: AuthUser, message_id: uuid.UUID) -> Message:
        message = await turns.load_message(self.db, message_id)
        if message is None or message.user_id != user.id or message.role != Role.ASSISTANT:
            raise MessageNotFound()
        return message

    # Versions of the latest exchange ------------------------------------------------------------

    async def regenerate(
        self, user: AuthUser, answer_id: uuid.UUID, client_message_id: str
    ) -> Turn:
        """A new answer to the question `answer_id` answers (the latest of a chat), started as
        a send's is; the earlier answers are kept as versions."""
        change = versions.Regeneration(answer_id, client_message_id, uuid.uuid4(), self.models.name)
        return await self._new_version(
            user,
            client_message_id,
            change.new_answer_id,
            find=lambda: versions.find_regeneration(self.db, user, change),
            store=lambda: versions.store_regeneration(self.db, user, change),
        )

    async def edit(
        self, user: AuthUser, message_id: uuid.UUID, text: str, client_message_id: str
    ) -> Turn:
        """A new version of the latest question with `text`, and its answer, started as a
        send's is; the earlier version and its answers are kept."""
        turns.validate_message_text(text, self.settings)
        change = versions.Edit(message_id, text, client_message_id, uuid.uuid4(), self.models.name)
        return await self._new_version(
            user,
            client_message_id,
            change.new_answer_id,
            find=lambda: versions.find_edit(self.db, user, change),
            store=lambda: versions.store_edit(self.db, user, change),
        )

    async def _new_version(
        self,
        user: AuthUser,
        client_message_id: str,
        answer_id: uuid.UUID,
        *,
        find: Callable[[], Awaitable[turns.TurnRecord | None]],
        store: Callable[[], Awaitable[turns.TurnRecord]],
    ) -> Turn:
        # As a send: one request per client_message_id at a time, a repeat finds the first's
        # turn before anything is counted, and a new version is admitted by the rate limits.
        async with self._holding(user.id, client_message_id, answer_id) as (held, lease):
            existing = await find()
            if existing is not None:
                return Turn(existing, ConversationKind.CHAT)
            async with self._admitted(lease):
                record = await store()
                lease.keep()  # released when the answer ends
            held.mark_stored()
            generation = self._launch(user, ConversationKind.CHAT, record, lease)
        if held.stop_requested:  # a Stop named the send before it arrived
            generation.stop(StopReason.CANCELLED)
        return Turn(record, ConversationKind.CHAT)

    async def version_turn(self, turn: Turn) -> ChatTurnRead:
        """A regenerate's or an edit's turn, each message with the ids of its versions."""
        return await versions.turn_read(self.db, turn.record)

    # Readers ------------------------------------------------------------------------------------

    async def stream(self, turn: Turn) -> StreamHandle | None:
        """The answer as a stream, from where the send's `resume` left off."""
        return await readers.stream_handle(
            self.db, self.streams, self.cluster, turn.record.assistant_message, turn.resume
        )

    async def watch(
        self, user: AuthUser, message_id: uuid.UUID, resume: EventId | None
    ) -> StreamHandle | None:
        """Any of the user's answers as a stream: live, from its log, or from the database."""
        answer = await self._users_answer(user, message_id)
        return await readers.stream_handle(self.db, self.streams, self.cluster, answer, resume)

    async def continue_answer(
        self, user: AuthUser, message_id: uuid.UUID, resume: EventId | None
    ) -> StreamHandle | None:
        """Continue an interrupted or cancelled answer where it stopped, as a new run of events
        on the same message; a reconnect (or an answer not continuable any more, say continued
        by another tab meanwhile) reads it as `watch` does."""
        answer = await self._users_answer(user, message_id)
        if resume is None and answer.status in turns.CONTINUABLE:
            await turns.ensure_continuable_kind(self.db, user, answer)
            # One Continue at a time per answer: the others wait, then read it, uncounted.
            async with self._send_locks.hold(user.id, f"continue:{answer.id}"):
                answer = await self._continue_held(user, answer)
        return await readers.stream_handle(self.db, self.streams, self.cluster, answer, resume)

    async def _continue_held(self, user: AuthUser, answer: Message) -> Message:
        answer = await turns.load_message(self.db, answer.id) or answer
        if answer.status in turns.CONTINUABLE:
            lease = self._lease(user.id, answer.id, fresh_log=True)
            async with self._admitted(lease, fresh_log=True):
                record = await turns.reopen_turn(self.db, user, answer.id)
                if record is not None:
                    lease.keep()
                    self._launch(user, ConversationKind.CHAT, record, lease, continued=True)
                    answer = record.assistant_message
        return answer

    def started(self, turn: Turn) -> ChatTurnRead:
        """The turn as stored when its answer starts (or as found, for a repeat)."""
        record = turn.record
        return ChatTurnRead(
            conversation_id=record.user_message.conversation_id,
            user_message=MessageRead.model_validate(record.user_message),
            assistant_message=MessageRead.model_validate(record.assistant_message),
        )

    async def whole_answer(self, turn: Turn) -> ChatTurnRead:
        """The answer once it has ended, as stored."""
        return await readers.whole_answer(
            self.db, self.streams, self.settings, self.cluster, turn.record, turn.kind
        )

    # The turn ---------------------------------------------------------------------------------

    async def _send(self, user: AuthUser | TokenUser, kind: ConversationKind, send: Send) -> Turn:
        turns.validate_message_text(send.text, self.settings)
        answer_id = uuid.uuid4()  # the new answer's id, and its stream slot
        async with self._holding(user.id, send.client_message_id, answer_id) as (held, lease):
            turn, generation = await self._send_held(user, kind, send, held, lease)
        if generation is not None and held.stop_requested:  # a Stop named the send before it
            generation.stop(StopReason.CANCELLED)
        return turn

    async def _send_held(
        self,
        sender: AuthUser | TokenUser,
        kind: ConversationKind,
        send: Send,
        held: HeldSend,
        lease: StreamLease,
    ) -> tuple[Turn, Generation | None]:
        # A retry that waited while another retried the same id reads that one's answer.
        regenerates = send.regenerates and not held.sent_meanwhile
        for _attempt in range(2):
            user, existing = await turns.find_turn(
                self.db, sender, kind, send.text, send.client_message_id
            )
            sender = user  # a second attempt need not read the account again
            if existing is not None and not (regenerates and existing.regenerable):
                return Turn(existing, kind, send.resume), None
            async with self._admitted(lease):
                try:
                    record = await self._store(user, kind, send, existing, lease.lease_id)
                except turns.SentMeanwhile:
                    # Another request stored this id first: use its turn.
                    lease = self._lease(user.id, uuid.uuid4())
                    continue
                lease.keep()  # released when the answer ends
            held.mark_stored()
            generation = self._launch(user, kind, record, lease)
            return Turn(record, kind, send.resume), generation
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

    def _lease(
        self, user_id: uuid.UUID, answer_id: uuid.UUID, *, fresh_log: bool = False
    ) -> StreamLease:
        """A new answer's admission under the rate limits. In scaled mode it carries the
        answer's claim by this process, before any other can see it stored (a Continue starts
        the answer's log afresh: its earlier run has ended): one Redis call for both."""
        leases = self._leases
        rider = leases.claim_rider(answer_id, fresh_log=fresh_log) if leases else None
        return self.limiter.lease(user_id, answer_id, rider)

    @contextlib.asynccontextmanager
    async def _holding(
        self, user_id: uuid.UUID, client_message_id: str, answer_id: uuid.UUID
    ) -> AsyncIterator[tuple[HeldSend, StreamLease]]:
        """The send lock on a client_message_id, and the new answer's lease. With Redis, a new
        id's admission (and claim) runs in the lock's own call: a send costs a round trip less.
        It is undone if the answer is not stored after all (the message was a repeat whose turn
        was stored, or the request failed)."""
        lease = self._lease(user_id, answer_id)
        ahead = self.limiter.admission(lease)
        async with self._send_locks.hold(user_id, client_message_id, ahead) as held:
            if held.ride is not None:
                lease.admitted_with(held.ride)
                if lease.rode and self._leases is not None:
                    self._leases.claimed(answer_id)  # renewed from now on
            try:
                yield held, lease
            finally:
                if lease.admitted_ahead:
                    await asyncio.shield(self._unless_used(lease))

    async def _unless_used(self, lease: StreamLease) -> None:
        """An admission made ahead that no answer used: nothing stays taken or counted."""
        try:
            undone = await lease.unadmit()
            if undone and lease.rode and self._leases is not None:
                await self._leases.release(lease.lease_id)
        except (RedisError, OSError) as exc:  # the slot and the claim lapse by themselves
            structlog.get_logger("chatstream.orchestrator").warning(
                "admission_undo_failed", error_type=type(exc).__name__
            )

    @contextlib.asynccontextmanager
    async def _admitted(
        self, lease: StreamLease, *, fresh_log: bool = False
    ) -> AsyncIterator[None]:
        """The lease admitted (by now, or ahead with the send lock) and, in scaled mode, its
        answer claimed. Unless the block keeps the lease for the answer it started, the
        claim is let go with the slot."""
        leases = self._leases
        async with lease:
            if leases is not None and not lease.rode:  # the limits are in process: claimed apart
                await leases.claim(lease.lease_id, fresh_log=fresh_log)
            elif leases is not None:
                leases.claimed(lease.lease_id)
            try:
                yield
            finally:
                if leases is not None and not lease.kept:
                    with contextlib.suppress(RedisError, OSError):
                        await asyncio.shield(leases.release(lease.lease_id))

    @property
    def _leases(self) -> StreamLeases | None:
        return self.cluster.leases if self.cluster is not None else None

    def _launch(
        self,
        user: AuthUser,
        kind: ConversationKind,
        record: turns.TurnRecord,
        lease: StreamLease,
        *,
        continued: bool = False,
    ) -> Generation:
        assistant = record.assistant_message
        agent = telemetry.agent_name(kind)

        async def finalise(outcome: GenerationOutcome) -> OnboardingProgress | None:
            try:
                return await self._answers.save(user, kind, record, outcome)
            finally:
                await _give_back(lease)

        def start() -> Generation:
            # Runs in a copy of the request's context, bound here: the generation task copies
            # it, so every line it logs carries the answer's context. A copy thrown away after
            # costs a fraction of binding and unbinding around the call (bound_contextvars).
            structlog.contextvars.bind_contextvars(
                user_id=str(user.id),
                message_id=str(assistant.id),
                conversation_id=str(assistant.conversation_id),
                agent=agent,
                model=self.models.name,
            )
            telemetry.stream_started(agent=agent)
            return self.streams.start(
                message_id=assistant.id,
                conversation_id=assistant.conversation_id,
                user_message_id=record.user_message.id,
                chunks=self._answer_chunks(kind, record.context),
                finalise=finalise,
                continued=_continued(assistant) if continued else None,
            )

        generation = contextvars.copy_context().run(start)
        if self.cluster is not None and generation.task is not None:
            cluster = self.cluster
            generation.task.add_done_callback(lambda _: cluster.release_when_written(assistant.id))
        return generation

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


def _continued(answer: Message) -> Continued:
    """Where a Continue of `answer` (reopened: its stream_offset moved) takes up."""
    return Continued(tuple(replay.stored_pieces(answer)), first_seq=replay.run_first_seq(answer))


async def _give_back(lease: StreamLease) -> None:
    """The answer's stream slot; with Redis away it lapses by itself (its lease expires), and
    the answer, saved already, must not be reported as failed for it."""
    try:
        await lease.release()
    except (RedisError, OSError) as exc:
        structlog.get_logger("chatstream.orchestrator").warning(
            "stream_slot_release_failed", error_type=type(exc).__name__
        )
