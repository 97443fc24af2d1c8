"""The stream routes' plain path parses a request to exactly what FastAPI's validation gives.

app/api/stream_route.py parses the parameters of /chat/stream and /chat/onboarding-stream
itself when they are in their plain form, and leaves any other request to FastAPI. FastAPI stays
the reference: for any query string and Last-Event-ID header, whenever the plain parser returns
parameters, FastAPI's own validation of the route's declared parameters accepts the request and
gives the same values; whenever FastAPI refuses it, the plain parser returns None (FastAPI then
answers it, with its 422).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.dependencies.utils import request_params_to_args
from fastapi.routing import APIRoute
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers, QueryParams

from app.api.deps import get_stream_sender
from app.api.stream_route import (
    PlainStreamRequests,
    StreamParams,
    plain_stream_params,
    query_pairs,
)
from app.api.v1.endpoints import chat
from app.main import create_app
from tests.fixtures.server import make_settings

NAMES = ["token", "message", "client_message_id", "conversation_id", "last_event_id", "regenerate"]
SAMPLE_UUID = uuid.UUID("0b7e2f1c-58a4-4c1e-9d3b-2a6f0c9e8d71")


def _route(path: str) -> APIRoute:
    return next(
        r for r in chat.router.routes if isinstance(r, APIRoute) and r.path == f"/chat{path}"
    )


def _fastapi(route: APIRoute, query: str, header: str | None) -> dict[str, Any] | None:
    """The values FastAPI's validation gives the route's parameters, or None if it refuses."""
    params = QueryParams(query)
    raw_headers = [] if header is None else [(b"last-event-id", header.encode("latin-1"))]
    dependant = route.dependant
    token, token_errors = request_params_to_args(dependant.dependencies[0].query_params, params)
    values, errors = request_params_to_args(dependant.query_params, params)
    headers, header_errors = request_params_to_args(
        dependant.header_params, Headers(raw=raw_headers)
    )
    if token_errors or errors or header_errors:
        return None
    return {**token, **values, **headers}


def _plain(query: str, header: str | None, *, chat_route: bool) -> StreamParams | None:
    pairs = query_pairs(query.encode("latin-1"))
    assert pairs == QueryParams(query).multi_items()  # the lane reads it as Starlette does
    return plain_stream_params(pairs, header, chat=chat_route)


uuid_forms = st.uuids().flatmap(
    lambda u: st.sampled_from(
        [str(u), str(u).upper(), u.hex, f"{{{u}}}", f"urn:uuid:{u}", str(u)[:-1], str(u) + " "]
    )
)
booleans = st.sampled_from(
    ["true", "false", "True", "FALSE", "1", "0", "yes", "no", "on", "off", "t", "f", "", "2"]
)
client_ids = st.one_of(
    st.text(alphabet="abcXYZ019._:-", min_size=0, max_size=105),
    st.text(max_size=12),
    st.sampled_from(["a\n", " a", "a b", "ü", "x" * 100, "x" * 101]),
)
values_by_name = {
    "token": st.text(max_size=30),
    "message": st.text(max_size=40),
    "client_message_id": client_ids,
    "conversation_id": st.one_of(uuid_forms, st.text(max_size=10)),
    "last_event_id": st.text(max_size=20),
    "regenerate": booleans,
    "other": st.text(max_size=5),
}
pairs = st.lists(
    st.sampled_from([*NAMES, "other"]).flatmap(
        lambda name: st.tuples(st.just(name), values_by_name[name])
    ),
    max_size=8,
)
headers = st.one_of(st.none(), st.text(alphabet=st.characters(max_codepoint=255), max_size=20))


@pytest.mark.parametrize("chat_route", [True, False], ids=["chat", "onboarding"])
@settings(max_examples=400, deadline=None)
@given(sent=pairs, header=headers)
def test_the_plain_path_gives_what_fastapi_gives_or_leaves_the_request_to_it(
    chat_route: bool, sent: list[tuple[str, str]], header: str | None
) -> None:
    route = _route("/stream" if chat_route else "/onboarding-stream")
    query = urlencode(sent)
    plain = _plain(query, header, chat_route=chat_route)
    reference = _fastapi(route, query, header)
    if plain is None:
        return  # FastAPI answers it, whatever its verdict
    assert reference is not None, f"plain accepted what FastAPI refuses: {query!r}"
    assert reference.pop("token") == plain.token
    expected = {
        "message": plain.message,
        "client_message_id": plain.client_message_id,
        "last_event_id": plain.last_event_id,
        "last_event_id_header": plain.last_event_id_header,
        "regenerate": plain.regenerate,
    }
    if chat_route:
        expected["conversation_id"] = plain.conversation_id
    else:
        assert plain.conversation_id is None
    assert reference == expected


@pytest.mark.parametrize(
    "query",
    [
        {"message": "Hello", "client_message_id": "c-1", "token": "t"},
        {
            "message": "Hello again",
            "client_message_id": str(uuid.uuid4()),
            "conversation_id": str(SAMPLE_UUID),
            "regenerate": "true",
            "last_event_id": f"{SAMPLE_UUID}:3",
            "token": "t",
        },
    ],
    ids=["first-message", "follow-up-retry-resume"],
)
def test_what_the_front_end_sends_takes_the_plain_path(query: dict[str, str]) -> None:
    plain = _plain(urlencode(query), None, chat_route=True)
    assert plain is not None
    assert plain == StreamParams(
        token="t",
        message=query["message"],
        client_message_id=query["client_message_id"],
        conversation_id=SAMPLE_UUID if "conversation_id" in query else None,
        last_event_id=query.get("last_event_id"),
        last_event_id_header=None,
        regenerate=query.get("regenerate") == "true",
    )


def test_the_stream_routes_take_the_plain_path(tmp_path: Path) -> None:
    """The app's middleware stack holds the plain path in the router's place, for both routes,
    and each route's one dependency is the token's, which the plain path checks itself."""
    app = create_app(make_settings(tmp_path))
    layer: Any = app.build_middleware_stack()
    while not isinstance(layer, PlainStreamRequests):
        layer = layer.app
    assert layer.app is app.router
    assert {path: lane.open_stream.__name__ for path, lane in layer.lanes.items()} == {
        "/api/v1/chat/stream": "_open_chat_stream",
        "/api/v1/chat/onboarding-stream": "_open_onboarding_stream",
    }
    for path in ("/stream", "/onboarding-stream"):
        assert [d.call for d in _route(path).dependant.dependencies] == [get_stream_sender]
