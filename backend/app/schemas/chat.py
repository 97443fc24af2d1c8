"""Request and response bodies for chat turns, conversations and messages."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from app.core.errors import EmptyMessage, UnstorableMessage
from app.core.text import has_lone_surrogate
from app.streaming.events import OnboardingProgress

# A character that is not whitespace as Python's str.isspace() defines it (what the service
# strips to tell an empty message): the schema's own statement that a blank message is refused,
# so a client, or a generated one, knows it before sending.
NOT_BLANK_PATTERN = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _storable(text: str) -> str:
    # Refused here, before the request reaches a service, with the codes the service's own
    # checks give: a lone surrogate would fail the insert in the driver (a 500 on SQLite, a 503
    # on PostgreSQL), as a NUL would.
    if not text.strip():
        raise PydanticCustomError(EmptyMessage.code, EmptyMessage.message)
    if has_lone_surrogate(text):
        raise PydanticCustomError(
            UnstorableMessage.code,
            "The message contains half of a UTF-16 surrogate pair (such as \\ud800), which "
            "cannot be stored.",
        )
    return text


MessageText = Annotated[
    str,
    Field(
        description="The message: not blank; longer than MAX_MESSAGE_CHARS (GET /config) is a 413.",
        json_schema_extra={"pattern": NOT_BLANK_PATTERN},
    ),
    AfterValidator(_storable),
]

CLIENT_MESSAGE_ID = Field(
    min_length=1,
    max_length=100,
    pattern=r"^[A-Za-z0-9._:-]+$",
    description="Chosen by the client; the same id never starts a second generation.",
)


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    conversation_id: uuid.UUID
    role: Literal["user", "assistant"]
    content: str
    status: Literal["streaming", "complete", "interrupted", "cancelled", "error"]
    error_code: str | None = None
    client_message_id: str | None = None
    created_at: datetime
    completed_at: datetime | None
    version_ids: list[uuid.UUID] = Field(
        default_factory=list,
        description="Every version of this message (regenerated answers, edited questions), "
        "oldest first, this one among them; one id when it has no other version. Filled in by "
        "the message list and the version endpoints; empty elsewhere.",
    )

    def with_versions(self, version_ids: list[uuid.UUID]) -> MessageRead:
        return self.model_copy(update={"version_ids": version_ids})


class ConversationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: Literal["chat", "onboarding"]
    title: str | None
    created_at: datetime
    updated_at: datetime


class ConversationList(BaseModel):
    items: list[ConversationRead]
    has_more: bool


TITLE_MAX_CHARS = 200
# A character that is neither whitespace nor a control character: what a title must hold.
TITLE_PATTERN = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _title(text: str) -> str:
    # One line, as the sidebar shows it: control characters (invisible; PostgreSQL cannot store
    # a NUL) are dropped, and runs of whitespace, newlines too, become one space.
    text = "".join(c for c in text if c.isspace() or unicodedata.category(c) != "Cc")
    title = " ".join(text.split())
    if not title:
        raise PydanticCustomError("empty_title", "The title is blank.")
    if has_lone_surrogate(title):
        raise PydanticCustomError(
            "invalid_title", "The title contains half of a UTF-16 surrogate pair."
        )
    return title


class ConversationUpdate(BaseModel):
    title: Annotated[
        str,
        Field(
            max_length=TITLE_MAX_CHARS,
            # Documents the check `_title` makes, with a clearer message than a mismatch's.
            json_schema_extra={"pattern": TITLE_PATTERN},
            description="The new title, at most 200 characters; control characters are "
            "dropped, and whitespace is trimmed (runs of it become one space).",
        ),
        AfterValidator(_title),
    ]


class SearchHitRead(BaseModel):
    conversation_id: uuid.UUID
    conversation_title: str | None
    message_id: uuid.UUID
    role: Literal["user", "assistant"]
    snippet: str = Field(description="Plain text around the best match, `…` where cut.")
    created_at: datetime


class SearchResults(BaseModel):
    items: list[SearchHitRead] = Field(description="Best match first; newer first among equals.")


class MessagePage(BaseModel):
    items: list[MessageRead]
    has_more: bool


REGENERATE = Field(
    default=False,
    description="Repeat a send whose answer failed: a new answer replaces the failed one.",
)


class ChatMessageCreate(BaseModel):
    message: MessageText
    conversation_id: uuid.UUID | None = None
    client_message_id: str = CLIENT_MESSAGE_ID
    regenerate: bool = REGENERATE


class OnboardingMessageCreate(BaseModel):
    message: MessageText
    client_message_id: str = CLIENT_MESSAGE_ID
    regenerate: bool = REGENERATE


class TurnCreate(BaseModel):
    """A message sent in a body (any length up to MAX_MESSAGE_CHARS, any script), whose answer
    is then read with `GET /chat/messages/{id}/stream`."""

    message: MessageText
    client_message_id: str = CLIENT_MESSAGE_ID
    conversation_id: uuid.UUID | None = Field(
        default=None, description="Chat only: the conversation to continue; none starts one."
    )
    kind: Literal["chat", "onboarding"] = "chat"
    regenerate: bool = REGENERATE


class RegenerateCreate(BaseModel):
    client_message_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Chosen by the client; repeating it returns the answer it started.",
    )


class EditCreate(BaseModel):
    message: MessageText
    client_message_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Chosen by the client, as for a send; the new version of the message "
        "carries it, and repeating it returns the same turn.",
    )


class ChatTurnRead(BaseModel):
    conversation_id: uuid.UUID
    user_message: MessageRead
    assistant_message: MessageRead
    onboarding: OnboardingProgress | None = None


class CancelResult(BaseModel):
    """An answer once stopped: stored, its terminal event written; nothing follows it."""

    message_id: uuid.UUID | None = Field(
        description="The answer; null when the send it names has not reached the server yet "
        "(it will be stored `cancelled` when it does)."
    )
    status: str
    content: str = Field(description="The answer's text as stored.")
    last_event_id: str | None = Field(
        default=None,
        description="The id of the answer's terminal event (`<message_id>:<seq>`); null if it "
        "has none yet.",
    )


class SendCancel(BaseModel):
    client_message_id: str = CLIENT_MESSAGE_ID
