"""Retrying a failed answer: a new answer to the same user message, never a duplicate question."""

from __future__ import annotations

from tests.fixtures.accounts import bearer, new_client_id, new_user_token
from tests.fixtures.models import RecordingModel, recording_model
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import read_stream, stream_params


def fails_first_model(text: str) -> RecordingModel:
    """Fails its first call after one chunk, answers fully afterwards."""
    return recording_model(text, fail_after=1, fail_times=1)


async def test_regenerate_replaces_failed_answer_without_duplicating_the_question(
    app_factory: AppFactory,
) -> None:
    model = fails_first_model("A complete answer.")
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client)
        send = {"message": "Hello?", "client_message_id": new_client_id()}
        failed = await h.client.post("/api/v1/chat/message", json=send, headers=bearer(token))
        assert failed.status_code == 502
        assert failed.json()["error"]["code"] == "llm_error"

        repeat = await h.client.post("/api/v1/chat/message", json=send, headers=bearer(token))
        assert repeat.status_code == 502  # a plain repeat gets the first result again
        assert len(model.calls) == 1

        retried = await h.client.post(
            "/api/v1/chat/message", json={**send, "regenerate": True}, headers=bearer(token)
        )
        assert retried.status_code == 200, retried.text
        turn = retried.json()
        assert turn["assistant_message"]["content"] == "A complete answer."
        assert turn["assistant_message"]["status"] == "complete"
        assert len(model.calls) == 2

        again = await h.client.post(
            "/api/v1/chat/message", json={**send, "regenerate": True}, headers=bearer(token)
        )
        assert again.json()["assistant_message"]["id"] == turn["assistant_message"]["id"]
        assert len(model.calls) == 2  # a complete answer is never regenerated

        page = await h.client.get(
            f"/api/v1/chat/conversations/{turn['conversation_id']}/messages",
            headers=bearer(token),
        )
        items = page.json()["items"]
        assert [(m["role"], m["status"]) for m in items] == [
            ("user", "complete"),
            ("assistant", "complete"),
        ]


async def test_streamed_regenerate_answers_the_same_question_once(
    live_server_factory: AppFactory,
) -> None:
    model = fails_first_model("Second time lucky.")
    async with live_server_factory(model=model) as server, server.client() as client:
        token = await new_user_token(client)
        params = stream_params(token, "Try")
        first = await read_stream(client, params)
        assert first.terminal["type"] == "error" and first.terminal["code"] == "llm_error"
        second = await read_stream(client, {**params, "regenerate": "true"})
        assert second.terminal["type"] == "complete"
        assert second.payloads[0]["user_message_id"] == first.payloads[0]["user_message_id"]
        assert second.message_id != first.message_id
        assert second.chunk_text == "Second time lucky."
        # e.g. EventSource reconnecting the same URL
        replay = await read_stream(client, {**params, "regenerate": "true"})
        assert replay.message_id == second.message_id
        assert len(model.calls) == 2


async def test_reconnect_of_a_regenerate_stream_never_regenerates_again(
    live_server_factory: AppFactory,
) -> None:
    model = recording_model("Never reached.", fail_after=1)  # every call fails
    async with live_server_factory(model=model) as server, server.client() as client:
        token = await new_user_token(client)
        params = stream_params(token, "Again")
        await read_stream(client, params)
        retried = await read_stream(client, {**params, "regenerate": "true"})
        assert retried.terminal["type"] == "error"
        assert len(model.calls) == 2
        # EventSource reconnects to the same URL (regenerate=true included) with Last-Event-ID.
        resumed = await read_stream(
            client,
            {**params, "regenerate": "true"},
            headers={"Last-Event-ID": retried.events[0].id or ""},
        )
        assert resumed.types == retried.types[1:]
        assert len(model.calls) == 2
