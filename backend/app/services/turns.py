"""The database side of a chat turn: validate, find a repeated send, or store a new one."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.agents.base import HistoryEntry, TurnContext
from app.core.config import Settings
from app.core.errors import (
    Conflict,
    ConversationNotFound,
    EmptyMessage,
    MessageTooLong,
    OnboardingAlreadyCompleted,
    UnstorableMessage,
)
from app.db.base import utcnow
from app.db.crud import conversations as conversation_crud
from app.db.crud import messages as message_crud
from app.db.crud import onboarding as onboarding_crud
from app.db.models import ConversationKind, Message, MessageStatus, Role
from app.db.session import Database
from app.schemas.auth import AuthUser
from app.services.onboarding import ensure_state, is_completed


def validate_message_text(text: str, settings: Settings) -> str:
    if not text or not text.strip():
        raise EmptyMessage()
    if "\x00" in text:  # PostgreSQL text cannot hold it: refuse rather than fail the insert
        raise UnstorableMessage()
    if len(text) > settings.max_message_chars:
        raise MessageTooLong(
            f"The message is {len(text)} characters long; the limit is "
            f"{settings.max_message_chars}."
        )
    return text


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """A turn as stored: the user message, its answer, and whether this request created them."""

    user_message: Message
    assistant_message: Message
    created: bool
    context: TurnContext
    onboarding_step: int | None = None


def find_turn(
    session: Session, user_id: uuid.UUID, text: str, client_message_id: str
) -> TurnRecord | None:
    """The turn a client_message_id already stored, or None; 409 if it carried other text."""
    existing = message_crud.get_by_client_message_id(session, user_id, client_message_id)
    if existing is None:
        return None
    if existing.content != text:
        raise Conflict("client_message_id was already used for a different message.")
    reply = message_crud.get_reply(session, existing.id)
    if reply is None:  # cannot happen: both are written in one transaction
        raise Conflict("This message has no answer record.")
    return TurnRecord(existing, reply, created=False, context=TurnContext(message=text))


def _profile(session: Session, user_id: uuid.UUID) -> Mapping[str, str]:
    answers = onboarding_crud.get_answers(session, user_id)
    return {str(k): str(v) for k, v in answers.items()}


def _new_turn(
    user: AuthUser,
    question: Message,
    answer: Message,
    history: list[Message],
    profile: Mapping[str, str],
    onboarding_step: int | None,
) -> TurnRecord:
    """A turn this request created, with what the agent needs to write its answer."""
    context = TurnContext(
        message=question.content,
        display_name=user.display_name,
        history=[HistoryEntry(m.role, m.content) for m in history],
        profile=profile,
        onboarding_step=onboarding_step or 0,
    )
    return TurnRecord(question, answer, True, context, onboarding_step=onboarding_step)


@dataclass(frozen=True, slots=True)
class NewTurn:
    user: AuthUser
    kind: ConversationKind
    text: str
    client_message_id: str
    conversation_id: uuid.UUID | None
    model_name: str
    assistant_id: uuid.UUID


def store_turn(session: Session, settings: Settings, turn: NewTurn) -> TurnRecord:
    """The user message and an empty answer, with what the agent needs to write that answer.

    Raises IntegrityError when the same client_message_id was stored meanwhile.
    """
    user = turn.user
    now = utcnow()
    onboarding_step: int | None = None
    history: list[Message] = []
    if turn.kind is ConversationKind.ONBOARDING:
        state = ensure_state(session, settings, user.id)
        if is_completed(state, len(settings.onboarding_steps)):
            raise OnboardingAlreadyCompleted()
        conversation = conversation_crud.get_onboarding_conversation(session, user.id)
        assert conversation is not None
        conversation_id = conversation.id
        onboarding_step = state.current_step
        profile: Mapping[str, str] = {str(k): str(v) for k, v in (state.answers or {}).items()}
        history = message_crud.recent_history(session, conversation_id, before=now)
    elif turn.conversation_id is not None:
        found = conversation_crud.get_owned_conversation(session, user.id, turn.conversation_id)
        if found is None or found.kind != ConversationKind.CHAT:
            raise ConversationNotFound()
        conversation_id = found.id
        profile = _profile(session, user.id)
        history = message_crud.recent_history(session, conversation_id, before=now)
    else:  # a new conversation: no history to read back
        conversation_id = conversation_crud.start_conversation(
            session, user.id, turn.kind, conversation_crud.title_from_message(turn.text)
        )
        profile = _profile(session, user.id)
    if turn.kind is ConversationKind.ONBOARDING or turn.conversation_id is not None:
        conversation_crud.touch_conversation(session, conversation_id, now)
    # The unique (user, client_message_id) check fires here or at commit, depending on the
    # database and on timing: either way the whole unit of work is rolled back.
    user_message, assistant_message = message_crud.add_turn(
        session,
        conversation_id=conversation_id,
        user_id=user.id,
        content=turn.text,
        client_message_id=turn.client_message_id,
        model=turn.model_name,
        now=now,
        assistant_id=turn.assistant_id,
    )
    return _new_turn(user, user_message, assistant_message, history, profile, onboarding_step)


async def begin_turn(
    db: Database,
    settings: Settings,
    turn: NewTurn,
    *,
    admit: Callable[[], Awaitable[None]],
    regenerate: bool = False,
) -> TurnRecord:
    """Store the user message (before any model call) and an empty answer, or find them again.

    With `regenerate`, a repeated send whose answer failed (error, interrupted, cancelled) gets
    a new answer to the same user message, replacing the failed one; anything else is a repeat.
    Rate limits count new messages only, never a repeat: `admit` runs between the look-up and
    the write.
    """
    validate_message_text(turn.text, settings)
    user = turn.user
    for _attempt in range(2):
        existing = await db.run(
            lambda session: find_turn(session, user.id, turn.text, turn.client_message_id)
        )
        if existing is not None:
            if not (regenerate and existing.assistant_message.status in REGENERABLE):
                return existing
            await admit()
            return await db.run(
                partial(
                    regenerate_turn,
                    settings=settings,
                    user=user,
                    existing=existing,
                    assistant_id=turn.assistant_id,
                    model_name=turn.model_name,
                )
            )
        await admit()
        try:
            return await db.run(lambda session: store_turn(session, settings, turn))
        except IntegrityError:
            continue  # the same client_message_id raced in from another request: use its turn
    raise Conflict("This message is being sent by another request.")


REGENERABLE = frozenset({MessageStatus.ERROR, MessageStatus.INTERRUPTED, MessageStatus.CANCELLED})


def regenerate_turn(
    session: Session,
    settings: Settings,
    user: AuthUser,
    existing: TurnRecord,
    assistant_id: uuid.UUID,
    model_name: str,
) -> TurnRecord:
    """A new answer to an existing user message; the failed answer it replaces is removed."""
    question = existing.user_message
    conversation = conversation_crud.get_owned_conversation(
        session, user.id, question.conversation_id
    )
    if conversation is None:
        raise ConversationNotFound()
    onboarding_step: int | None = None
    if conversation.kind == ConversationKind.ONBOARDING:
        state = ensure_state(session, settings, user.id)
        if is_completed(state, len(settings.onboarding_steps)):
            raise OnboardingAlreadyCompleted()
        onboarding_step = state.current_step
        profile: Mapping[str, str] = {str(k): str(v) for k, v in (state.answers or {}).items()}
    else:
        profile = _profile(session, user.id)
    history = message_crud.recent_history(session, conversation.id, before=question.created_at)
    failed = message_crud.get_message(session, existing.assistant_message.id)
    if failed is not None:
        session.delete(failed)
        session.flush()
    answer = Message(
        id=assistant_id,
        conversation_id=conversation.id,
        user_id=user.id,
        role=Role.ASSISTANT,
        content="",
        status=MessageStatus.STREAMING,
        reply_to_id=question.id,
        model=model_name,
        created_at=question.created_at + timedelta(microseconds=1),
    )
    session.add(answer)
    conversation.updated_at = utcnow()
    session.flush()
    return _new_turn(user, question, answer, history, profile, onboarding_step)


async def load_message(db: Database, message_id: uuid.UUID) -> Message | None:
    return await db.run(lambda session: message_crud.get_message(session, message_id))
