"""A user's conversations: listing, renaming, deleting, pages of messages, search; never
anyone else's."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from app.core.errors import ConversationNotFound, MessageNotFound
from app.db.crud import conversations as conversation_crud
from app.db.crud import messages as message_crud
from app.db.crud import search as search_crud
from app.db.crud import versions as version_crud
from app.db.models import ConversationKind
from app.db.session import Database
from app.schemas.chat import (
    ConversationList,
    ConversationRead,
    MessagePage,
    MessageRead,
    SearchHitRead,
    SearchResults,
)


def _conversation_page(
    session: Session,
    user_id: uuid.UUID,
    kind: ConversationKind | None,
    before: uuid.UUID | None,
    limit: int,
) -> ConversationList:
    cursor = None
    if before is not None:
        cursor = conversation_crud.get_owned_conversation(session, user_id, before)
        if cursor is None:
            raise ConversationNotFound("The `before` conversation is not one of yours (deleted?).")
    rows, has_more = conversation_crud.list_conversations(
        session, user_id, kind, before=cursor, limit=limit
    )
    return ConversationList(
        items=[ConversationRead.model_validate(c) for c in rows], has_more=has_more
    )


async def list_conversations(
    db: Database,
    user_id: uuid.UUID,
    kind: ConversationKind | None,
    *,
    before: uuid.UUID | None = None,
    limit: int,
) -> ConversationList:
    """One page of the user's conversations, newest activity first, from just after `before`
    (conversations whose activity is older)."""
    return await db.run(lambda session: _conversation_page(session, user_id, kind, before, limit))


def _owned(session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID) -> ConversationRead:
    conversation = conversation_crud.get_owned_conversation(session, user_id, conversation_id)
    if conversation is None:
        raise ConversationNotFound()
    return ConversationRead.model_validate(conversation)


async def get_conversation(
    db: Database, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> ConversationRead:
    """One of the user's conversations (a 404 for anyone else's)."""
    return await db.run(lambda session: _owned(session, user_id, conversation_id))


def _message_page(
    session: Session,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    before: uuid.UUID | None,
    limit: int,
) -> MessagePage:
    conversation = conversation_crud.get_owned_conversation(session, user_id, conversation_id)
    if conversation is None:
        raise ConversationNotFound()
    cursor = None
    if before is not None:
        cursor = message_crud.get_message(session, before)
        if cursor is None or cursor.conversation_id != conversation_id:
            raise MessageNotFound("The `before` message is not in this conversation.")
    rows, has_more = message_crud.page_messages(
        session, conversation_id, before=cursor, limit=limit
    )
    versions = version_crud.version_ids(session, rows)
    items = [MessageRead.model_validate(m).with_versions(versions[m.id]) for m in rows]
    return MessagePage(items=items, has_more=has_more)


async def message_page(
    db: Database,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    *,
    before: uuid.UUID | None,
    limit: int,
) -> MessagePage:
    """One page of the user's conversation, oldest first, ending just before `before`."""
    return await db.run(
        lambda session: _message_page(session, user_id, conversation_id, before, limit)
    )


def _rename(
    session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID, title: str
) -> ConversationRead:
    conversation = conversation_crud.get_owned_conversation(session, user_id, conversation_id)
    if conversation is None:
        raise ConversationNotFound()
    # Its place in the list stays: renaming is not activity (updated_at is left as it was).
    conversation.title = title
    session.flush()
    return ConversationRead.model_validate(conversation)


async def rename_conversation(
    db: Database, user_id: uuid.UUID, conversation_id: uuid.UUID, title: str
) -> ConversationRead:
    return await db.run(lambda session: _rename(session, user_id, conversation_id, title))


def _answers_in_flight(
    session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> list[uuid.UUID]:
    if conversation_crud.get_owned_conversation(session, user_id, conversation_id) is None:
        raise ConversationNotFound()
    return conversation_crud.streaming_answer_ids(session, conversation_id)


async def answers_in_flight(
    db: Database, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> list[uuid.UUID]:
    """The answers of the user's conversation still being written (to stop before deleting
    it); ConversationNotFound if it is not the user's."""
    return await db.run(lambda session: _answers_in_flight(session, user_id, conversation_id))


def _delete(session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
    if conversation_crud.get_owned_conversation(session, user_id, conversation_id) is None:
        raise ConversationNotFound()
    conversation_crud.delete_conversation(session, conversation_id)


async def delete_conversation(db: Database, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
    """The user's conversation and all its messages, gone (stop its answers first)."""
    await db.run(lambda session: _delete(session, user_id, conversation_id))


async def search_messages(
    db: Database, user_id: uuid.UUID, query: str, limit: int
) -> SearchResults:
    """The user's messages matching every word of `query`, best first (app/db/crud/search.py)."""
    hits = await db.run(
        lambda session: search_crud.search_messages(session, user_id, query, limit=limit)
    )
    return SearchResults(
        items=[
            SearchHitRead(
                conversation_id=hit.conversation_id,
                conversation_title=hit.conversation_title,
                message_id=hit.message_id,
                role=hit.role,
                snippet=hit.snippet,
                created_at=hit.created_at,
            )
            for hit in hits
        ]
    )
