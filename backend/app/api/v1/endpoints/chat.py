"""Chat: streaming (SSE) and non-streaming turns, cancel, conversations and their messages."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.responses import Response
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from app.api.deps import (
    CurrentUser,
    DatabaseDep,
    OrchestratorDep,
    RateLimiterDep,
    SettingsDep,
    StreamSender,
    StreamUser,
    orchestrator_of,
    settings_of,
)
from app.api.stream_route import StreamLane, StreamParams
from app.core.config import Settings
from app.core.errors import StreamingDisabled
from app.core.security import create_stream_token
from app.db.models import ConversationKind
from app.orchestration.orchestrator import Send
from app.orchestration.readers import StreamHandle
from app.rollout import streaming_enabled_for
from app.schemas.auth import AuthUser, StreamToken, TokenUser
from app.schemas.chat import (
    NOT_BLANK_PATTERN,
    CancelResult,
    ChatMessageCreate,
    ChatTurnRead,
    ConversationList,
    ConversationRead,
    ConversationUpdate,
    EditCreate,
    MessagePage,
    OnboardingMessageCreate,
    RegenerateCreate,
    SearchResults,
    SendCancel,
    TurnCreate,
)
from app.schemas.errors import error_responses
from app.services import conversations, versions
from app.streaming.response import SSEResponse
from app.streaming.sse import parse_event_id

router = APIRouter(prefix="/chat", tags=["chat"])

SSE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/event-stream": {}}, "description": "An SSE stream (docs/api.md)."},
    204: {"description": "The client already has this answer's terminal event."},
}
# The pattern only documents that a blank message is refused: the send's own check refuses it,
# with the `empty_message` error a body's message gets, not a generic pattern mismatch.
MessageQuery = Annotated[
    str,
    Query(
        description="The user's message: not blank; longer than MAX_MESSAGE_CHARS is a 413.",
        json_schema_extra={"pattern": NOT_BLANK_PATTERN},
    ),
]
ClientMessageIdQuery = Annotated[
    str, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
]
LastEventIdHeader = Annotated[str | None, Header(alias="Last-Event-ID")]
RegenerateQuery = Annotated[
    bool,
    Query(description="Repeat a send whose answer failed: a new answer replaces the failed one."),
]


def _require_streaming(settings: Settings, user: AuthUser | TokenUser) -> None:
    if not streaming_enabled_for(settings, user.id):
        raise StreamingDisabled()


def _sse(handle: StreamHandle | None, settings: Settings) -> Response:
    if handle is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return SSEResponse(
        handle.source,
        after_seq=handle.after_seq,
        generation=handle.generation,
        retry_ms=settings.stream_retry_ms,
        ping_interval_s=settings.stream_ping_interval_s,
    )


@router.post("/stream-token", responses=error_responses(403, 429))
async def issue_stream_token(
    user: CurrentUser,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    purpose: Annotated[
        Literal["send", "watch"],
        Query(description="`watch`: to attach to an answer, which no rate limit refuses."),
    ] = "send",
) -> StreamToken:
    """A short-lived token valid only for the stream endpoints, for an EventSource URL.

    For a send, refused with 429 (and Retry-After) when the next message would be refused
    anyway; a token to watch an answer is never refused by the rate limits.
    """
    _require_streaming(settings, user)
    if purpose == "send":
        await limiter.check(user.id)
    issued = create_stream_token(settings, user.id)
    return StreamToken(token=issued.token, expires_in=issued.expires_in)


async def _open_stream(
    request: Request, user: TokenUser, params: StreamParams, *, onboarding: bool
) -> Response:
    settings, orchestrator = settings_of(request), orchestrator_of(request)
    _require_streaming(settings, user)
    send = Send(
        params.message,
        params.client_message_id,
        params.conversation_id,  # None for the onboarding stream, which takes none
        params.regenerate,
        resume=parse_event_id(params.last_event_id_header or params.last_event_id),
    )
    if onboarding:
        turn = await orchestrator.send_onboarding(user, send)
    else:
        turn = await orchestrator.send_chat(user, send)
    return _sse(await orchestrator.stream(turn), settings)


async def _open_chat_stream(request: Request, user: TokenUser, params: StreamParams) -> Response:
    return await _open_stream(request, user, params, onboarding=False)


async def _open_onboarding_stream(
    request: Request, user: TokenUser, params: StreamParams
) -> Response:
    return await _open_stream(request, user, params, onboarding=True)


# The two routes every answer opens with: their plain requests skip the router and FastAPI's
# parameter machinery (app/api/stream_route.py, STREAM_LANES below); the signatures below are
# what FastAPI validates and documents, and what it runs for any other request.


@router.get(
    "/stream",
    response_class=Response,
    responses={**SSE_RESPONSES, **error_responses(403, 404, 409, 413, 414, 422, 429)},
)
async def stream_chat(
    request: Request,
    user: StreamSender,
    message: MessageQuery,
    client_message_id: ClientMessageIdQuery,
    conversation_id: uuid.UUID | None = None,
    last_event_id: str | None = None,
    last_event_id_header: LastEventIdHeader = None,
    regenerate: RegenerateQuery = False,
) -> Response:
    params = StreamParams(
        token=None,  # checked by the dependency
        message=message,
        client_message_id=client_message_id,
        conversation_id=conversation_id,
        last_event_id=last_event_id,
        last_event_id_header=last_event_id_header,
        regenerate=regenerate,
    )
    return await _open_chat_stream(request, user, params)


@router.get(
    "/onboarding-stream",
    response_class=Response,
    responses={**SSE_RESPONSES, **error_responses(403, 409, 413, 414, 422, 429)},
)
async def stream_onboarding(
    request: Request,
    user: StreamSender,
    message: MessageQuery,
    client_message_id: ClientMessageIdQuery,
    last_event_id: str | None = None,
    last_event_id_header: LastEventIdHeader = None,
    regenerate: RegenerateQuery = False,
) -> Response:
    params = StreamParams(
        token=None,  # checked by the dependency
        message=message,
        client_message_id=client_message_id,
        conversation_id=None,
        last_event_id=last_event_id,
        last_event_id_header=last_event_id_header,
        regenerate=regenerate,
    )
    return await _open_onboarding_stream(request, user, params)


STREAM_LANES = (
    StreamLane(stream_chat, _open_chat_stream, chat=True),
    StreamLane(stream_onboarding, _open_onboarding_stream, chat=False),
)


@router.post(
    "/turns",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(403, 404, 409, 413, 422, 429),
)
async def start_turn(
    body: TurnCreate, user: CurrentUser, orchestrator: OrchestratorDep, settings: SettingsDep
) -> ChatTurnRead:
    """Store a message and start its answer; read the answer with
    `GET /chat/messages/{assistant_message.id}/stream`. The message travels in the body, so
    its whole MAX_MESSAGE_CHARS fit whatever its script (a URL has no room for them)."""
    _require_streaming(settings, user)
    if body.kind == "onboarding":
        send = Send(body.message, body.client_message_id, regenerate=body.regenerate)
        turn = await orchestrator.send_onboarding(user, send)
    else:
        send = Send(body.message, body.client_message_id, body.conversation_id, body.regenerate)
        turn = await orchestrator.send_chat(user, send)
    return orchestrator.started(turn)


@router.post("/message", responses=error_responses(404, 409, 413, 422, 429, 502, 504))
async def send_message(
    body: ChatMessageCreate, user: CurrentUser, orchestrator: OrchestratorDep
) -> ChatTurnRead:
    send = Send(body.message, body.client_message_id, body.conversation_id, body.regenerate)
    return await orchestrator.whole_answer(await orchestrator.send_chat(user, send))


@router.post("/onboarding-message", responses=error_responses(409, 413, 422, 429, 502, 504))
async def send_onboarding_message(
    body: OnboardingMessageCreate, user: CurrentUser, orchestrator: OrchestratorDep
) -> ChatTurnRead:
    send = Send(body.message, body.client_message_id, regenerate=body.regenerate)
    return await orchestrator.whole_answer(await orchestrator.send_onboarding(user, send))


@router.get(
    "/messages/{message_id}/stream",
    response_class=Response,
    responses={**SSE_RESPONSES, **error_responses(404)},
)
async def watch_message(
    message_id: uuid.UUID,
    user: StreamUser,
    orchestrator: OrchestratorDep,
    settings: SettingsDep,
    last_event_id: str | None = None,
    last_event_id_header: LastEventIdHeader = None,
) -> Response:
    """Attach to one of the user's answers: live while it is generated (on any process), from
    its log, or told again from the database. Not a send: nothing is counted or started."""
    resume = parse_event_id(last_event_id_header or last_event_id)
    return _sse(await orchestrator.watch(user, message_id, resume), settings)


@router.get(
    "/messages/{message_id}/continue",
    response_class=Response,
    responses={**SSE_RESPONSES, **error_responses(403, 404, 409, 429)},
)
async def continue_message(
    message_id: uuid.UUID,
    user: StreamUser,
    orchestrator: OrchestratorDep,
    settings: SettingsDep,
    last_event_id: str | None = None,
    last_event_id_header: LastEventIdHeader = None,
) -> Response:
    """Continue an `interrupted` or `cancelled` chat answer where it stopped: a new run of
    events on the same message (its `start` carries the text so far as `prefix`, its chunks
    the rest, its `complete` the whole as `content`). Reconnects resume that run."""
    _require_streaming(settings, user)
    resume = parse_event_id(last_event_id_header or last_event_id)
    return _sse(await orchestrator.continue_answer(user, message_id, resume), settings)


@router.post(
    "/messages/{message_id}/regenerate",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(403, 404, 409, 429),
)
async def regenerate_answer(
    message_id: uuid.UUID,
    body: RegenerateCreate,
    user: CurrentUser,
    orchestrator: OrchestratorDep,
    settings: SettingsDep,
) -> ChatTurnRead:
    """A new answer to the question that answer `message_id` replies to (the latest exchange
    of a chat, whatever that answer's status); the earlier answers stay as versions. Read it
    with `GET /chat/messages/{assistant_message.id}/stream`."""
    _require_streaming(settings, user)
    turn = await orchestrator.regenerate(user, message_id, body.client_message_id)
    return await orchestrator.version_turn(turn)


@router.post(
    "/messages/{message_id}/edit",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(403, 404, 409, 413, 422, 429),
)
async def edit_message(
    message_id: uuid.UUID,
    body: EditCreate,
    user: CurrentUser,
    orchestrator: OrchestratorDep,
    settings: SettingsDep,
) -> ChatTurnRead:
    """A new version of the user message `message_id` (the latest question of a chat) with
    the new text, and its answer; the earlier version and its answers stay. Read the answer
    with `GET /chat/messages/{assistant_message.id}/stream`."""
    _require_streaming(settings, user)
    turn = await orchestrator.edit(user, message_id, body.message, body.client_message_id)
    return await orchestrator.version_turn(turn)


@router.post("/messages/{message_id}/choose", responses=error_responses(404, 409))
async def choose_version(message_id: uuid.UUID, user: CurrentUser, db: DatabaseDep) -> ChatTurnRead:
    """Show version `message_id` of its message; the chosen versions are what the model reads
    as history from then on. Returns the exchange it belongs to as it now reads."""
    return await versions.choose_version(db, user, message_id)


@router.post(
    "/messages/{message_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404),
)
async def cancel_message(
    message_id: uuid.UUID, user: CurrentUser, orchestrator: OrchestratorDep
) -> CancelResult:
    """Stop a generation wherever it runs; answers once the partial answer is stored
    (`cancelled`) and the terminal event written: no chunk follows on any stream."""
    return await orchestrator.cancel(user, message_id)


@router.post("/cancel", status_code=status.HTTP_202_ACCEPTED)
async def cancel_send(
    body: SendCancel, user: CurrentUser, orchestrator: OrchestratorDep
) -> CancelResult:
    """Stop the answer to a send named by its `client_message_id` (a Stop before `start`)."""
    return await orchestrator.cancel_send(user, body.client_message_id)


@router.get("/conversations", responses=error_responses(404))
async def list_conversations(
    user: CurrentUser,
    db: DatabaseDep,
    kind: Annotated[
        ConversationKind | None,
        Query(description="Only this kind; both (the onboarding conversation too) without it."),
    ] = None,
    before: Annotated[
        uuid.UUID | None,
        Query(description="The last conversation of the previous page: the page after it."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationList:
    """The user's conversations, newest activity first, a page at a time."""
    return await conversations.list_conversations(db, user.id, kind, before=before, limit=limit)


@router.get("/conversations/{conversation_id}", responses=error_responses(404))
async def get_conversation(
    conversation_id: uuid.UUID, user: CurrentUser, db: DatabaseDep
) -> ConversationRead:
    """One of the user's conversations (a page of the list may not hold it)."""
    return await conversations.get_conversation(db, user.id, conversation_id)


@router.patch("/conversations/{conversation_id}", responses=error_responses(404))
async def rename_conversation(
    conversation_id: uuid.UUID, body: ConversationUpdate, user: CurrentUser, db: DatabaseDep
) -> ConversationRead:
    """Rename one of the user's conversations; its place in the list does not change."""
    return await conversations.rename_conversation(db, user.id, conversation_id, body.title)


@router.delete(
    "/conversations/{conversation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404),
)
async def delete_conversation(
    conversation_id: uuid.UUID, user: CurrentUser, db: DatabaseDep, orchestrator: OrchestratorDep
) -> Response:
    """Delete one of the user's conversations and its messages; an answer still being
    written in it is stopped first (as `POST /chat/messages/{id}/cancel` stops it)."""
    for answer_id in await conversations.answers_in_flight(db, user.id, conversation_id):
        await orchestrator.cancel(user, answer_id)
    await conversations.delete_conversation(db, user.id, conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _search_words(q: str) -> str:
    if not q.strip():
        raise PydanticCustomError("empty_query", "Type one or more words to search for.")
    return q


@router.get("/search")
async def search_messages(
    user: CurrentUser,
    db: DatabaseDep,
    q: Annotated[
        str,
        Query(
            max_length=200,
            description="Words to find, each as the start of a word; punctuation is ignored.",
            json_schema_extra={"pattern": NOT_BLANK_PATTERN},
        ),
        AfterValidator(_search_words),
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> SearchResults:
    """Search the user's own messages (never anyone else's), best match first."""
    return await conversations.search_messages(db, user.id, q, limit)


@router.get("/conversations/{conversation_id}/messages", responses=error_responses(404))
async def list_messages(
    conversation_id: uuid.UUID,
    user: CurrentUser,
    db: DatabaseDep,
    before: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MessagePage:
    return await conversations.message_page(
        db, user.id, conversation_id, before=before, limit=limit
    )
