"""Versions of the latest exchange: regenerate its answer, edit and resend its question, choose
which version is shown (and given to the model as history).

Only the latest exchange of a chat conversation gets new versions, and never while an answer is
being written in it; every earlier version is kept. A regenerate or an edit carries its own
client_message_id (on the new answer, or on the new question), so repeating it finds what the
first request stored instead of generating twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.agents.base import TurnContext
from app.core.errors import Conflict, MessageNotFound
from app.db.base import utcnow
from app.db.crud import conversations as conversation_crud
from app.db.crud import messages as message_crud
from app.db.crud import versions as version_crud
from app.db.models import ConversationKind, Message, Role
from app.db.session import Database
from app.schemas.auth import AuthUser
from app.schemas.chat import ChatTurnRead, MessageRead
from app.services.turns import TurnRecord, created_turn, profile_answers


class AnswerInProgress(Conflict):
    code = "answer_in_progress"
    message = "An answer is still being written in this conversation; wait for it or stop it."


class NotLatestMessage(Conflict):
    code = "not_latest_message"
    message = "Only the latest question and answer of a conversation can be edited or regenerated."


class NotAChatMessage(Conflict):
    code = "conflict"
    message = "Only messages of a chat conversation have versions; onboarding answers are retried."


REUSED_ID = "client_message_id was already used for a different message."


@dataclass(frozen=True, slots=True)
class Regeneration:
    """A new answer to the question answered by `answer_id`."""

    answer_id: uuid.UUID
    client_message_id: str
    new_answer_id: uuid.UUID
    model_name: str


@dataclass(frozen=True, slots=True)
class Edit:
    """A new version of user message `message_id`, with `text`, and its answer."""

    message_id: uuid.UUID
    text: str
    client_message_id: str
    new_answer_id: uuid.UUID
    model_name: str


def _owned(session: Session, user_id: uuid.UUID, message_id: uuid.UUID, role: Role) -> Message:
    message = message_crud.get_message(session, message_id)
    if message is None or message.user_id != user_id or message.role != role:
        raise MessageNotFound()
    return message


def _ensure_latest_chat_exchange(session: Session, user: AuthUser, question: Message) -> None:
    conversation = conversation_crud.get_owned_conversation(
        session, user.id, question.conversation_id
    )
    if conversation is None:
        raise MessageNotFound()
    if conversation.kind != ConversationKind.CHAT:
        raise NotAChatMessage()
    if conversation_crud.streaming_answer_ids(session, conversation.id):
        raise AnswerInProgress()
    latest = version_crud.latest_question(session, conversation.id)
    if latest is None or latest.id != question.id:
        raise NotLatestMessage()


def _found(session: Session, question_id: uuid.UUID | None, answer: Message) -> TurnRecord:
    question = None if question_id is None else message_crud.get_message(session, question_id)
    if question is None:  # cannot happen: an answer and its question are deleted together
        raise Conflict("This answer has no question record.")
    return TurnRecord(
        question, answer, created=False, context=TurnContext(message=question.content)
    )


def _find_regeneration(session: Session, user: AuthUser, change: Regeneration) -> TurnRecord | None:
    target = _owned(session, user.id, change.answer_id, Role.ASSISTANT)
    sent = message_crud.get_by_client_message_id(session, user.id, change.client_message_id)
    if sent is None:
        return None
    if sent.role != Role.ASSISTANT or sent.reply_to_id != target.reply_to_id:
        raise Conflict(REUSED_ID)
    return _found(session, sent.reply_to_id, sent)


def _store_regeneration(session: Session, user: AuthUser, change: Regeneration) -> TurnRecord:
    target = _owned(session, user.id, change.answer_id, Role.ASSISTANT)
    question = (
        None
        if target.reply_to_id is None
        else version_crud.lock_message(session, target.reply_to_id)
    )
    if question is None:  # the onboarding greeting answers no question
        raise NotLatestMessage()
    _ensure_latest_chat_exchange(session, user, question)
    history = message_crud.recent_history(
        session, question.conversation_id, before=question.created_at
    )
    now = utcnow()
    answer = version_crud.new_answer(
        question,
        answer_id=change.new_answer_id,
        model=change.model_name,
        client_message_id=change.client_message_id,
        now=now,
    )
    session.add(answer)
    session.flush()
    version_crud.choose_answer(session, question.id, answer.id)
    conversation_crud.touch_conversation(session, question.conversation_id, now)
    return created_turn(user, question, answer, history, profile_answers(session, user.id), None)


def _find_edit(session: Session, user: AuthUser, change: Edit) -> TurnRecord | None:
    target = _owned(session, user.id, change.message_id, Role.USER)
    sent = message_crud.get_by_client_message_id(session, user.id, change.client_message_id)
    if sent is None:
        return None
    same_group = sent.role == Role.USER and version_crud.group_root(sent) == (
        version_crud.group_root(target)
    )
    if not same_group or sent.content != change.text:
        raise Conflict(REUSED_ID)
    reply = message_crud.get_reply(session, sent.id)
    if reply is None:  # cannot happen: both are written in one transaction
        raise Conflict("This message has no answer record.")
    return _found(session, sent.id, reply)


def _store_edit(session: Session, user: AuthUser, change: Edit) -> TurnRecord:
    _owned(session, user.id, change.message_id, Role.USER)
    question = version_crud.lock_message(session, change.message_id)
    assert question is not None
    _ensure_latest_chat_exchange(session, user, question)
    history = message_crud.recent_history(
        session, question.conversation_id, before=question.created_at
    )
    root = version_crud.group_root(question)
    now = utcnow()
    edited, answer = message_crud.add_turn(
        session,
        conversation_id=question.conversation_id,
        user_id=user.id,
        content=change.text,
        client_message_id=change.client_message_id,
        model=change.model_name,
        now=now,
        assistant_id=change.new_answer_id,
        version_of_id=root,
    )
    version_crud.choose_question(session, root, edited.id)
    conversation_crud.touch_conversation(session, question.conversation_id, now)
    return created_turn(user, edited, answer, history, profile_answers(session, user.id), None)


async def find_regeneration(
    db: Database, user: AuthUser, change: Regeneration
) -> TurnRecord | None:
    """The answer a regenerate with this client_message_id already started, or None; 404 if
    `answer_id` is not one of the user's answers, 409 if the id was used for something else."""
    return await db.run(lambda session: _find_regeneration(session, user, change))


async def store_regeneration(db: Database, user: AuthUser, change: Regeneration) -> TurnRecord:
    """A new, chosen answer to the latest question (the earlier answers kept as versions)."""
    try:
        return await db.run(lambda session: _store_regeneration(session, user, change))
    except IntegrityError as exc:  # the id was stored meanwhile by another kind of request
        raise Conflict(REUSED_ID) from exc


async def find_edit(db: Database, user: AuthUser, change: Edit) -> TurnRecord | None:
    """The turn an edit with this client_message_id already stored, or None (404, 409 as
    find_regeneration)."""
    return await db.run(lambda session: _find_edit(session, user, change))


async def store_edit(db: Database, user: AuthUser, change: Edit) -> TurnRecord:
    """A new, chosen version of the latest question with its answer (the earlier version and
    its answers kept)."""
    try:
        return await db.run(lambda session: _store_edit(session, user, change))
    except IntegrityError as exc:
        raise Conflict(REUSED_ID) from exc


def read_turn(session: Session, question: Message, answer: Message) -> ChatTurnRead:
    """An exchange as the client shows it, each message with the ids of its versions."""
    versions = version_crud.version_ids(session, [question, answer])
    return ChatTurnRead(
        conversation_id=question.conversation_id,
        user_message=MessageRead.model_validate(question).with_versions(versions[question.id]),
        assistant_message=MessageRead.model_validate(answer).with_versions(versions[answer.id]),
    )


async def turn_read(db: Database, record: TurnRecord) -> ChatTurnRead:
    return await db.run(
        lambda session: read_turn(session, record.user_message, record.assistant_message)
    )


def _choose(session: Session, user: AuthUser, message_id: uuid.UUID) -> ChatTurnRead:
    message = message_crud.get_message(session, message_id)
    if message is None or message.user_id != user.id:
        raise MessageNotFound()
    if conversation_crud.streaming_answer_ids(session, message.conversation_id):
        raise AnswerInProgress()
    if message.role == Role.ASSISTANT:
        if message.reply_to_id is None:
            raise MessageNotFound("This message has no other versions.")
        version_crud.choose_answer(session, message.reply_to_id, message.id)
        question_id = message.reply_to_id
    else:
        version_crud.choose_question(session, version_crud.group_root(message), message.id)
        question_id = message.id
    session.expire_all()
    question = message_crud.get_message(session, question_id)
    answer = message_crud.get_reply(session, question_id)
    if question is None or answer is None:  # cannot happen: both are written together
        raise MessageNotFound()
    return read_turn(session, question, answer)


async def choose_version(db: Database, user: AuthUser, message_id: uuid.UUID) -> ChatTurnRead:
    """Show version `message_id` of its message (and give it to the model from now on): the
    exchange it belongs to as it now reads."""
    return await db.run(lambda session: _choose(session, user, message_id))
