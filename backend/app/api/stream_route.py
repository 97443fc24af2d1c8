"""The stream routes' plain requests, parsed without FastAPI's per-parameter machinery.

Every answer is opened by a GET of /chat/stream or /chat/onboarding-stream. FastAPI solves the
token's dependency, then validates each query parameter and the Last-Event-ID header through
pydantic one at a time: about 0.6 M instructions of an open's 5 M (`make bench-instructions`),
more than the loop's share of its three units of work.

A request whose parameters are in the plain form a client sends them in (a client_message_id of
the allowed characters, a conversation id in the canonical UUID form, `regenerate` as `true` or
`false`) is parsed here, to exactly the values FastAPI's validation gives for it: a property
test holds the two together (tests/property/test_stream_params.py). Any other request goes
through FastAPI's own handler, which answers it as before, its 401s and 422s included. The
routes are declared as any other, so the OpenAPI document is FastAPI's, and a request without a
valid token is refused before its parameters are looked at, on both paths.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute
from fastapi.telemetry import get_telemetry_data
from starlette.requests import Request
from starlette.responses import Response

from app.api.deps import get_stream_sender, stream_sender
from app.schemas.auth import TokenUser

# The route's constraint (ClientMessageIdQuery); `fullmatch`, so a trailing newline is no match.
_CLIENT_MESSAGE_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_BOOLEANS = {"true": True, "false": False}


@dataclass(frozen=True, slots=True)
class StreamParams:
    """A stream request's parameters, as the route's signature declares them."""

    token: str | None
    message: str
    client_message_id: str
    conversation_id: uuid.UUID | None
    last_event_id: str | None
    last_event_id_header: str | None
    regenerate: bool


def plain_stream_params(
    query: Sequence[tuple[str, str]], last_event_id_header: str | None, *, chat: bool
) -> StreamParams | None:
    """The parameters, if every one is in its plain form; None to leave the request to FastAPI.

    `query`: the query string's pairs in order; a repeated name takes its last value, as
    Starlette's `QueryParams.get` does. `chat`: the route takes a conversation_id (the
    onboarding stream ignores one, as FastAPI ignores any parameter a route does not declare).
    """
    values = dict(query)
    message = values.get("message")
    client_message_id = values.get("client_message_id")
    if message is None or client_message_id is None:
        return None
    if not _CLIENT_MESSAGE_ID.fullmatch(client_message_id):
        return None
    conversation_id: uuid.UUID | None = None
    raw = values.get("conversation_id") if chat else None
    if raw is not None:
        if not _CANONICAL_UUID.fullmatch(raw):
            return None
        conversation_id = uuid.UUID(raw)
    raw = values.get("regenerate", "false")
    regenerate = _BOOLEANS.get(raw)
    if regenerate is None:
        return None
    return StreamParams(
        token=values.get("token"),
        message=message,
        client_message_id=client_message_id,
        conversation_id=conversation_id,
        last_event_id=values.get("last_event_id"),
        last_event_id_header=last_event_id_header,
        regenerate=regenerate,
    )


OpenStream = Callable[[Request, TokenUser, StreamParams], Awaitable[Response]]


def stream_route(open_stream: OpenStream, *, chat: bool) -> type[APIRoute]:
    """A route class whose plain requests go to `open_stream`, the others to FastAPI."""

    class StreamRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Any]:
            full = super().get_route_handler()
            # Only a route whose one dependency is the token's: anything else added to it (a
            # router's dependencies) is FastAPI's to run, on every request.
            if [d.call for d in self.dependant.dependencies] != [get_stream_sender]:
                return full

            async def handler(request: Request) -> Response:
                params = plain_stream_params(
                    request.query_params.multi_items(),
                    request.headers.get("last-event-id"),
                    chat=chat,
                )
                if params is None:
                    return await full(request)
                telemetry = get_telemetry_data()  # as FastAPI's handler does, when configured
                if telemetry is not None:
                    telemetry.request = request
                return await open_stream(request, stream_sender(request, params.token), params)

            return handler

    return StreamRoute
