"""The database side of a chat turn: validate it, find a repeated send, store a new or retried one.

Each function is one unit of work. The orchestrator calls them in order (find, then admit under
the rate limits, then store), so a repeat is found before anything is counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.agents.base import HistoryEntry, TurnContext
from app.core.config import Settings
from app.core.errors import (
    AccountGone,
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
from app.db.crud import users as user_crud
from app.db.models import Conversation, ConversationKind, Message, MessageStatus, Role
from app.db.session import Database
from app.schemas.auth import AuthUser, TokenUser
from app.services import onboarding

REGENERABLE = frozenset({MessageStatus.ERROR, MessageStatus.INTERRUPTED, MessageStatus.CANCELLED})
# Answers a Continue takes up where they stopped (an error may have been the text's fault).
CONTINUABLE = frozenset({MessageStatus.INTERRUPTED, MessageStatus.CANCELLED})


class SentMeanwhile(Exception):
    """The same client_message_id was stored by another request between look-up and write."""


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

    @property
    def regenerable(self) -> bool:
        return self.assistant_message.status in REGENERABLE


@dataclass(frozen=True, slots=True)
class NewTurn:
    user: AuthUser
    kind: ConversationKind
    text: str
    client_message_id: str
    conversation_id: uuid.UUID | None
    model_name: str
    assistant_id: uuid.UUID


def _find(
    session: Session,
    user_id: uuid.UUID,
    kind: ConversationKind,
    text: str,
    client_message_id: str,
) -> TurnRecord | None:
    existing = message_crud.get_by_client_message_id(session, user_id, client_message_id)
    if existing is None:
        return None
    if existing.content != text or existing.role != Role.USER:  # a regenerate's id is an answer's
        raise Conflict("client_message_id was already used for a different message.")
    conversation = session.get(Conversation, existing.conversation_id)
    if conversation is None or conversation.kind != kind:
        # An id belongs to one conversation kind: a chat turn is never an onboarding one.
        raise Conflict(f"client_message_id was already used in a {_other(kind)} conversation.")
    reply = message_crud.get_reply(session, existing.id)
    if reply is None:  # cannot happen: both are written in one transaction
        raise Conflict("This message has no answer record.")
    return TurnRecord(existing, reply, created=False, context=TurnContext(message=text))


def _other(kind: ConversationKind) -> str:
    return "chat" if kind is ConversationKind.ONBOARDING else "onboarding"


async def find_turn(
    db: Database,
    user: AuthUser | TokenUser,
    kind: ConversationKind,
    text: str,
    client_message_id: str,
) -> tuple[AuthUser, TurnRecord | None]:
    """The sender's account and the turn a client_message_id already stored, or None; 409 if
    it carried other text or belongs to the other conversation kind.

    A sender known only by its token (`TokenUser`) is read in the same unit: 401 if its account
    is gone.
    """

    def find(session: Session) -> tuple[AuthUser, TurnRecord | None]:
        account = user if isinstance(user, AuthUser) else user_crud.get_auth_user(session, user.id)
        if account is None:
            raise AccountGone()
        return account, _find(session, account.id, kind, text, client_message_id)

    return await db.run(find)


def profile_answers(session: Session, user_id: uuid.UUID) -> Mapping[str, str]:
    answers = onboarding_crud.get_answers(session, user_id)
    return {str(k): str(v) for k, v in answers.items()}


def _onboarding_step(session: Session, settings: Settings, user_id: uuid.UUID) -> int:
    """The question an onboarding message answers; refused once the onboarding is complete."""
    state = onboarding.ensure_state(session, settings, user_id)
    if onboarding.position(state, len(settings.onboarding_steps)).completed:
        raise OnboardingAlreadyCompleted()
    return state.current_step


def created_turn(
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


def _store(session: Session, settings: Settings, turn: NewTurn) -> TurnRecord:
    user = turn.user
    now = utcnow()
    onboarding_step: int | None = None
    history: list[Message] = []
    if turn.kind is ConversationKind.ONBOARDING:
        onboarding_step = _onboarding_step(session, settings, user.id)
        conversation = conversation_crud.get_onboarding_conversation(session, user.id)
        assert conversation is not None
        conversation_id = conversation.id
        profile = profile_answers(session, user.id)
        history = message_crud.recent_history(session, conversation_id, before=now)
    elif turn.conversation_id is not None:
        found = conversation_crud.get_owned_conversation(session, user.id, turn.conversation_id)
        if found is None or found.kind != ConversationKind.CHAT:
            raise ConversationNotFound()
        conversation_id = found.id
        profile = profile_answers(session, user.id)
        history = message_crud.recent_history(session, conversation_id, before=now)
    else:  # a new conversation: no history to read back
        conversation_id = conversation_crud.start_conversation(
            session, user.id, turn.kind, conversation_crud.title_from_message(turn.text)
        )
        profile = profile_answers(session, user.id)
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
    return created_turn(user, user_message, assistant_message, history, profile, onboarding_step)


async def store_turn(db: Database, settings: Settings, turn: NewTurn) -> TurnRecord:
    """The user message (before any model call) and an empty answer, in one transaction.

    Raises SentMeanwhile when another request stored the same client_message_id first.
    """
    try:
        return await db.run(lambda session: _store(session, settings, turn))
    except IntegrityError as exc:
        raise SentMeanwhile() from exc


def _regenerate(
    session: Session,
    settings: Settings,
    user: AuthUser,
    existing: TurnRecord,
    assistant_id: uuid.UUID,
    model_name: str,
) -> TurnRecord:
    question = existing.user_message
    conversation = conversation_crud.get_owned_conversation(
        session, user.id, question.conversation_id
    )
    if conversation is None:
        raise ConversationNotFound()
    onboarding_step: int | None = None
    if conversation.kind == ConversationKind.ONBOARDING:
        onboarding_step = _onboarding_step(session, settings, user.id)
    profile = profile_answers(session, user.id)
    history = message_crud.recent_history(session, conversation.id, before=question.created_at)
    answer = message_crud.replace_answer(
        session,
        failed_id=existing.assistant_message.id,
        question=question,
        answer_id=assistant_id,
        model=model_name,
        replaceable=REGENERABLE,
    )
    if answer is None:  # another request replaced it first: read its turn instead
        raise SentMeanwhile()
    conversation_crud.touch_conversation(session, conversation.id, utcnow())
    return created_turn(user, question, answer, history, profile, onboarding_step)


async def regenerate_turn(
    db: Database,
    settings: Settings,
    user: AuthUser,
    existing: TurnRecord,
    *,
    assistant_id: uuid.UUID,
    model_name: str,
) -> TurnRecord:
    """A new answer to an existing user message; the failed answer it replaces is removed."""
    return await db.run(
        lambda session: _regenerate(session, settings, user, existing, assistant_id, model_name)
    )


async def load_message(db: Database, message_id: uuid.UUID) -> Message | None:
    return await db.run(lambda session: message_crud.get_message(session, message_id))


async def interrupt_orphaned_answers(db: Database) -> int:
    """Answers left `streaming` by a process that died cannot resume: mark them interrupted."""
    return await db.run(
        lambda session: message_crud.interrupt_unfinished_answers(session, utcnow())
    )


def _answer_to(session: Session, user_id: uuid.UUID, client_message_id: str) -> Message | None:
    sent = message_crud.get_by_client_message_id(session, user_id, client_message_id)
    if sent is None or sent.role == Role.ASSISTANT:  # a regenerate names its answer itself
        return sent
    return message_crud.get_reply(session, sent.id)


async def find_answer(db: Database, user_id: uuid.UUID, client_message_id: str) -> Message | None:
    """The answer to the user's send with this client_message_id, if it has been stored."""
    return await db.run(lambda session: _answer_to(session, user_id, client_message_id))


async def interrupt_answer(db: Database, answer_id: uuid.UUID) -> None:
    """An answer left `streaming` that nobody writes any more (its log is gone too)."""
    await db.run(lambda session: message_crud.interrupt_answer(session, answer_id, utcnow()))


async def checkpoint_answers(db: Database, partials: list[dict[str, object]]) -> None:
    """The text so far of answers in flight, in one statement (message_crud.checkpoint_answers)."""
    await db.run(lambda session: message_crud.checkpoint_answers(session, partials))


def _ensure_chat_answer(session: Session, user: AuthUser, answer: Message) -> None:
    conversation = conversation_crud.get_owned_conversation(
        session, user.id, answer.conversation_id
    )
    if conversation is None or conversation.kind != ConversationKind.CHAT:
        raise Conflict("Only chat answers can be continued; retry an onboarding answer instead.")


async def ensure_continuable_kind(db: Database, user: AuthUser, answer: Message) -> None:
    """409 for an answer a Continue does not take up (onboarding: Retry it), before anything
    is counted for it."""
    await db.run(lambda session: _ensure_chat_answer(session, user, answer))


def _reopen(session: Session, user: AuthUser, answer_id: uuid.UUID) -> TurnRecord | None:
    answer = message_crud.get_message(session, answer_id)
    if answer is None or answer.reply_to_id is None:
        return None
    _ensure_chat_answer(session, user, answer)
    question = message_crud.get_message(session, answer.reply_to_id)
    if question is None or not message_crud.reopen_answer(session, answer_id, CONTINUABLE):
        return None
    session.refresh(answer)
    history = message_crud.recent_history(
        session, answer.conversation_id, before=question.created_at
    )
    turn = created_turn(user, question, answer, history, profile_answers(session, user.id), None)
    # The model is given the stored partial as the beginning of its own reply.
    context = replace(turn.context, prefill=answer.content)
    return replace(turn, created=False, context=context)


async def reopen_turn(db: Database, user: AuthUser, answer_id: uuid.UUID) -> TurnRecord | None:
    """An interrupted or cancelled chat answer, `streaming` again to be continued where it
    stopped; None if it is not continuable (complete, in flight, or just reopened by another
    request). 409 for an onboarding answer."""
    return await db.run(lambda session: _reopen(session, user, answer_id))


async def unfinished_answers(db: Database, limit: int = 1000) -> list[uuid.UUID]:
    """Answers still `streaming` (scaled mode checks each against its lease at start-up)."""
    return await db.run(lambda session: message_crud.unfinished_answer_ids(session, limit))
