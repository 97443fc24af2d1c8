"""The basic path: register, onboard, chat, read back, on both databases, in process and live."""

from __future__ import annotations

from tests.fixtures.accounts import bearer, new_client_id, new_user_token
from tests.fixtures.models import scripted_model
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import read_stream, stream_params


async def test_chat_turn_is_answered_and_stored(app_factory: AppFactory) -> None:
    async with app_factory(model=scripted_model("Hello there, friend.")) as h:
        token = await new_user_token(h.client)
        response = await h.client.post(
            "/api/v1/chat/message",
            json={"message": "Hi", "client_message_id": new_client_id()},
            headers=bearer(token),
        )
        assert response.status_code == 200, response.text
        turn = response.json()
        assert turn["assistant_message"]["content"] == "Hello there, friend."
        assert turn["assistant_message"]["status"] == "complete"
        page = await h.client.get(
            f"/api/v1/chat/conversations/{turn['conversation_id']}/messages", headers=bearer(token)
        )
        assert [m["role"] for m in page.json()["items"]] == ["user", "assistant"]


async def test_stream_over_real_server(live_server_factory: AppFactory) -> None:
    async with live_server_factory(model=scripted_model("One two three.", delay_s=0.01)) as server:
        async with server.client() as client:
            token = await new_user_token(client)
            stream = await read_stream(client, stream_params(token, "Count"))
    assert stream.status_code == 200
    assert stream.types == ["start", "chunk", "chunk", "chunk", "complete"]
    assert stream.chunk_text == "One two three."
