"""The stream routes' plain requests, opened without the router or FastAPI's per-parameter
machinery.

Every answer is opened by a GET of /chat/stream or /chat/onboarding-stream. FastAPI solves the
token's dependency, then validates each query parameter and the Last-Event-ID header through
pydantic one at a time: about 0.6 M instructions of an open's 5 M (`make bench-instructions`),
more than the loop's share of its three units of work. Matching the request through the
included routers and FastAPI's request wrapper cost another 0.3 M.

A request whose parameters are in the plain form a client sends them in (a client_message_id of
the allowed characters, a conversation id in the canonical UUID form, `regenerate` as `true` or
`false`) is parsed here, to exactly the values FastAPI's validation gives for it: a property
test holds the two together (tests/property/test_stream_params.py). `PlainStreamRequests`
stands in the router's place, inside every middleware, and opens such a request at once. Any
other request goes to the router and FastAPI's own handler, which answers it as before, its
401s and 422s included. The routes are declared as any other, so the OpenAPI document is
FastAPI's, and a request without a valid token is refused before its parameters are looked at,
on both paths. A dependency added to these routes would not run for plain requests: they have
only the token's, which the plain path checks itself.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.deps import stream_sender
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


@dataclass(frozen=True, slots=True)
class StreamLane:
    """A stream route whose plain requests skip the router: the route's endpoint (FastAPI's, for
    every other request, named as the route is), what opens the stream, and whether the route
    takes a conversation_id."""

    endpoint: Callable[..., Awaitable[Response]]
    open_stream: OpenStream
    chat: bool


class PlainStreamRequests:
    """ASGI, in the router's place inside the middleware: a plain GET of a stream route opens
    the stream at once, anything else goes to the router.

    Matching a stream request through the router cost about as much as the route's own parsing
    did before it: the included routers' matches, then FastAPI's request wrapper. Every
    middleware still runs, the exception handlers included (an error raised here reaches
    them as one raised in the route does). With FastAPI's telemetry on, the router takes every
    request, so that it names the route.
    """

    def __init__(self, router: ASGIApp, lanes: Mapping[str, StreamLane]) -> None:
        self.app = router
        self.lanes = dict(lanes)  # by the route's path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self._lane(scope)
        if lane is not None:
            params = plain_stream_params(
                query_pairs(scope["query_string"]), _last_event_id(scope), chat=lane.chat
            )
            if params is not None:
                request = Request(scope, receive, send)
                sender = stream_sender(request, params.token)  # the token before anything else
                response = await lane.open_stream(request, sender, params)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _lane(self, scope: Scope) -> StreamLane | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        if scope.get("fastapi.telemetry") is not None:
            return None
        return self.lanes.get(_route_path(scope))


def query_pairs(query_string: bytes) -> list[tuple[str, str]]:
    """The query string's pairs, in order, as Starlette's QueryParams reads them (without
    building one)."""
    return parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)


def _last_event_id(scope: Scope) -> str | None:
    # As Starlette's Headers.get reads it, without building one.
    for name, value in scope["headers"]:  # lower-case names (ASGI); the first one counts
        if name == b"last-event-id":
            header: str = value.decode("latin-1")
            return header
    return None


def _route_path(scope: Scope) -> str:
    """The path as the router matches it: without the root path the server was given."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path + "/"):
        return path[len(root_path) :]
    return path


def install_plain_streams(stack: ASGIApp, router: ASGIApp, lanes: Mapping[str, StreamLane]) -> bool:
    """Put PlainStreamRequests in the router's place in a middleware stack (each middleware
    holds the next as `app`); False if the router is not found there."""
    layer: Any = stack
    while layer is not None:
        inner = getattr(layer, "app", None)
        if inner is router:
            layer.app = PlainStreamRequests(router, lanes)
            return True
        layer = inner
    return False
