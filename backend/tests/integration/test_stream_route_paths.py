"""The stream routes answer the same whichever path parses a request (app/api/stream_route.py).

Plain requests (what the front end sends) are parsed by the route itself; any other form goes
through FastAPI's validation. Both must open the same streams, and FastAPI's refusals (a 401
before anything else, its 422s) must stay what they were.
"""

from __future__ import annotations

import uuid

import pytest

from tests.fixtures.accounts import new_account
from tests.fixtures.models import recording_model
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import ONBOARDING_STREAM_PATH, STREAM_PATH, read_stream, stream_params

pytestmark = pytest.mark.timeout(60)


async def test_follow_ups_in_plain_and_other_forms_reach_the_same_conversation(
    live_server_factory: AppFactory,
) -> None:
    async with live_server_factory(model=recording_model("Fine, thanks.")) as server:
        async with server.client() as client:
            account = await new_account(client)
            token = account.access_token
            first = await read_stream(client, stream_params(token, "First"))
            conversation = uuid.UUID(first.payloads[0]["conversation_id"])
            forms = [
                {"conversation_id": str(conversation)},  # plain
                {"conversation_id": conversation.hex, "regenerate": "False"},  # FastAPI's
                {"conversation_id": str(conversation).upper(), "regenerate": "false"},  # plain
                {"conversation_id": f"urn:uuid:{conversation}", "regenerate": "0"},  # FastAPI's
            ]
            follow_ups = [
                await read_stream(client, stream_params(token, f"Follow-up {i}", **form))
                for i, form in enumerate(forms)
            ]
            page = await client.get(
                f"/api/v1/chat/conversations/{conversation}/messages", headers=account.auth
            )
    assert first.types[-1] == "complete"
    assert [r.types[-1] for r in follow_ups] == ["complete"] * 4
    assert {r.payloads[0]["conversation_id"] for r in follow_ups} == {str(conversation)}
    assert page.status_code == 200
    questions = [m["content"] for m in page.json()["items"] if m["role"] == "user"]
    assert sorted(questions) == sorted(["First", *(f"Follow-up {i}" for i in range(4))])


@pytest.mark.parametrize("path", [STREAM_PATH, ONBOARDING_STREAM_PATH])
async def test_refusals_are_fastapis_whichever_form_the_request_takes(
    live_server_factory: AppFactory, path: str
) -> None:
    async with live_server_factory(model=recording_model("Fine.")) as server:
        async with server.client() as client:
            account = await new_account(client)
            token = account.access_token
            bad = [
                stream_params(token, regenerate="maybe"),
                stream_params(token, client_message_id="has space"),
                {"message": "Hello", "token": token},  # no client_message_id
                {"client_message_id": "c-1", "token": token},  # no message
            ]
            if path == STREAM_PATH:
                bad.append(stream_params(token, conversation_id="not-a-uuid"))
            refused = [await read_stream(client, params, path=path) for params in bad]
            unauthenticated = [
                await read_stream(client, {**params, "token": "not-a-token"}, path=path)
                for params in [stream_params(token), *bad]
            ]
    assert [r.status_code for r in refused] == [422] * len(bad)
    assert all("detail" in r.body or "error" in r.body for r in refused)
    assert [r.status_code for r in unauthenticated] == [401] * (len(bad) + 1)


async def test_errors_and_headers_are_the_same_on_both_paths(
    live_server_factory: AppFactory,
) -> None:
    """The plain path runs inside every middleware and before the app's error handlers: its
    refusals are the same JSON errors, and every answer carries the request id and the
    security headers."""
    async with live_server_factory(model=recording_model("Fine.")) as server:
        async with server.client() as client:
            token = (await new_account(client)).access_token
            too_long = "x" * (server.app.state.settings.max_message_chars + 1)
            answers = {
                (message, form): await client.get(
                    STREAM_PATH, params=stream_params(token, message, **extra)
                )
                for message in ("   ", too_long)
                for form, extra in (("plain", {}), ("fastapi", {"regenerate": "False"}))
            }
            streamed = await read_stream(client, stream_params(token, "Hello"))
    for message, status in (("   ", 422), (too_long, 413)):
        plain, fastapi = answers[(message, "plain")], answers[(message, "fastapi")]
        assert plain.status_code == fastapi.status_code == status
        assert plain.json()["error"]["code"] == fastapi.json()["error"]["code"]
    for headers in [*(a.headers for a in answers.values()), streamed.headers]:
        assert headers is not None and headers["x-request-id"]
        assert headers["x-content-type-options"] == "nosniff"
    assert streamed.types[-1] == "complete"
