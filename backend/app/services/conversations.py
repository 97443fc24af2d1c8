"""Reading a user's conversations and pages of their messages, never anyone else's."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from app.core.errors import ConversationNotFound, MessageNotFound
from app.db.crud import conversations as conversation_crud
from app.db.crud import messages as message_crud
from app.db.models import ConversationKind
from app.db.session import Database
from app.schemas.chat import ConversationList, ConversationRead, MessagePage, MessageRead


async def list_conversations(
    db: Database, user_id: uuid.UUID, kind: ConversationKind | None
) -> ConversationList:
    rows = await db.run(
        lambda session: conversation_crud.list_conversations(session, user_id, kind)
    )
    return ConversationList(items=[ConversationRead.model_validate(c) for c in rows])


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
    return MessagePage(items=[MessageRead.model_validate(m) for m in rows], has_more=has_more)


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
