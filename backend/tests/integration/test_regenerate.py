"""Retrying a failed answer: a new answer to the same user message, never a duplicate question."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from app.llm.scripted import ScriptedChatModel, ScriptedModelFailure
from tests.conftest import AppFactory
from tests.helpers import bearer, new_client_id, new_user_token


class FailsFirstModel(ScriptedChatModel):
    """Fails its first call after one chunk, answers fully afterwards."""

    calls: int = 0

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.calls += 1
        first_call = self.calls == 1
        index = 0
        async for chunk in super()._astream(messages, stop, **kwargs):
            if first_call and index == 1:
                raise ScriptedModelFailure("first call fails")
            index += 1
            yield chunk


async def test_regenerate_replaces_failed_answer_without_duplicating_the_question(
    app_factory: AppFactory,
) -> None:
    model = FailsFirstModel.from_text("A complete answer.")
    async with app_factory(model=model) as h:
        token = await new_user_token(h.client)
        send = {"message": "Hello?", "client_message_id": new_client_id()}
        failed = await h.client.post("/api/v1/chat/message", json=send, headers=bearer(token))
        assert failed.status_code == 502
        assert failed.json()["error"]["code"] == "llm_error"

        repeat = await h.client.post("/api/v1/chat/message", json=send, headers=bearer(token))
        assert repeat.status_code == 502  # a plain repeat gets the first result again
        assert model.calls == 1

        retried = await h.client.post(
            "/api/v1/chat/message", json={**send, "regenerate": True}, headers=bearer(token)
        )
        assert retried.status_code == 200, retried.text
        turn = retried.json()
        assert turn["assistant_message"]["content"] == "A complete answer."
        assert turn["assistant_message"]["status"] == "complete"
        assert model.calls == 2

        again = await h.client.post(
            "/api/v1/chat/message", json={**send, "regenerate": True}, headers=bearer(token)
        )
        assert again.json()["assistant_message"]["id"] == turn["assistant_message"]["id"]
        assert model.calls == 2  # a complete answer is never regenerated

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
    from tests.sse_client import iter_events

    model = FailsFirstModel.from_text("Second time lucky.")
    async with live_server_factory(model=model) as server, server.client() as client:
        token = await new_user_token(client)
        params = {"message": "Try", "client_message_id": new_client_id(), "token": token}

        async def stream(**extra: str) -> list[dict[str, Any]]:
            async with client.stream(
                "GET", "/api/v1/chat/stream", params={**params, **extra}
            ) as response:
                assert response.status_code == 200
                return [event.json async for event in iter_events(response)]

        first = await stream()
        assert first[-1]["type"] == "error" and first[-1]["code"] == "llm_error"
        second = await stream(regenerate="true")
        assert second[-1]["type"] == "complete"
        assert second[0]["user_message_id"] == first[0]["user_message_id"]
        assert second[0]["message_id"] != first[0]["message_id"]
        assert "".join(e["content"] for e in second if e["type"] == "chunk") == "Second time lucky."
        replay = await stream(regenerate="true")  # e.g. EventSource reconnecting the same URL
        assert replay[0]["message_id"] == second[0]["message_id"]
        assert model.calls == 2


async def test_reconnect_of_a_regenerate_stream_never_regenerates_again(
    live_server_factory: AppFactory,
) -> None:
    from tests.sse_client import iter_events

    model = FailsFirstModel.from_text("Never reached.", fail_after=1)  # every call fails
    async with live_server_factory(model=model) as server, server.client() as client:
        token = await new_user_token(client)
        params = {"message": "Again", "client_message_id": new_client_id(), "token": token}

        async def stream(headers: dict[str, str] | None = None, **extra: str) -> list[Any]:
            async with client.stream(
                "GET", "/api/v1/chat/stream", params={**params, **extra}, headers=headers
            ) as response:
                if response.status_code == 204:
                    return []
                return [event async for event in iter_events(response)]

        await stream()
        retried = await stream(regenerate="true")
        assert retried[-1].json["type"] == "error"
        assert model.calls == 2
        # EventSource reconnects to the same URL (regenerate=true included) with Last-Event-ID.
        resumed = await stream(headers={"Last-Event-ID": retried[0].id}, regenerate="true")
        assert [e.json["type"] for e in resumed] == [e.json["type"] for e in retried[1:]]
        assert model.calls == 2
