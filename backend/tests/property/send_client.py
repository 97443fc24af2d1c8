"""The client side of the send state machine: a loop on a thread, a scripted model that fails a
question once, one client's reading of an answer across reconnects, and a user's stored rows."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Conversation, Message
from app.llm.scripted import ScriptedChatModel
from tests.fixtures.accounts import Account
from tests.fixtures.database import DbProbe
from tests.fixtures.streams import ONBOARDING_STREAM_PATH, STREAM_PATH, SSEEvent, StreamReader

T = TypeVar("T")

# The stored status each terminal event stands for (docs/api.md, the table of `code`s).
TERMINAL_STATUS = {
    "complete": "complete",
    "cancelled": "cancelled",
    "llm_error": "error",
    "timeout": "error",
    "internal": "interrupted",
}
REGENERABLE = {"error", "interrupted", "cancelled"}
CONTINUABLE = {"interrupted", "cancelled"}
STREAM_TIMEOUT_S = 15.0


class LoopThread:
    """An event loop on a thread of its own. The server, its clients and their streams live
    there, so answers go on being generated while the synchronous state machine decides its
    next step; `run` calls into the loop and waits for the result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="live-server-loop")

    def __enter__(self) -> LoopThread:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.run(self.loop.shutdown_asyncgens())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def run(self, work: Coroutine[Any, Any, T], timeout_s: float = 45.0) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout_s)


_FAIL = re.compile(r"\[fail@(\d+)\]")


class FailsOnceModel(ScriptedChatModel):
    """The scripted model; a question carrying `[fail@N]` fails after N chunks the first time it
    is answered, and is answered in full afterwards, so a retry can succeed (the fixtures'
    DirectedModel fails every time). `asked`: the questions it has been asked."""

    asked: set[str] = Field(default_factory=set)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        model: ScriptedChatModel = self
        last = messages[-1]
        if isinstance(last, HumanMessage):  # not a Continue, whose last message is the answer
            question = str(last.content)
            found = _FAIL.search(question)
            if found and question not in self.asked:
                model = self.model_copy(update={"fail_after": int(found[1])})
            self.asked.add(question)
        async for chunk in ScriptedChatModel._astream(model, messages, stop, run_manager, **kwargs):
            yield chunk


# One client's reading of one answer --------------------------------------------------------------


def split_event_id(event_id: str) -> tuple[str, int]:
    message_id, _, seq = event_id.rpartition(":")
    return message_id, int(seq)


@dataclass
class Viewer:
    """What one client saw of an answer: a stream, its reconnects with Last-Event-ID, and a
    Continue it pressed after reading the stream to its end. Checks as it reads that no event
    id comes twice and that each event of an answer follows the one before (no gap, no repeat);
    `text` is the answer as the client puts it together (a start's `prefix`, then chunks)."""

    path: str
    params: dict[str, str]
    seen: set[str] = field(default_factory=set)
    message_id: str | None = None
    text: str = ""
    prefix: str | None = None
    run_start: int | None = None
    # The run's stream_offset as the events show it (chunk i is seq i + 1 + offset).
    offset: int | None = None
    last_id: str | None = None
    last_seq: int | None = None
    terminal: dict[str, Any] | None = None

    @property
    def ended(self) -> bool:
        return self.terminal is not None

    def take(self, events: list[SSEEvent]) -> None:
        for event in events:
            assert event.id is not None, f"an event without an id: {event.data}"
            assert event.id not in self.seen, f"{event.id} came twice to one client"
            self.seen.add(event.id)
            message_id, seq = split_event_id(event.id)
            payload = event.json
            same_answer = message_id == self.message_id
            if same_answer:
                assert self.last_seq is not None
                assert seq == self.last_seq + 1, f"{event.id} after {self.last_id}"
            if payload["type"] == "start":
                assert payload["message_id"] == message_id, payload
                self.message_id, self.run_start = message_id, seq
                self.prefix = payload.get("prefix")
                self.text = self.prefix or ""
                self.offset = seq if self.prefix is None else None
                self.terminal = None
            else:
                assert same_answer, f"{payload['type']} {event.id} without its start"
                assert self.terminal is None, f"{event.id} after the terminal event"
                if payload["type"] == "chunk":
                    if self.offset is None:
                        self.offset = seq - payload["index"] - 1
                    self.text += payload["content"]
                else:
                    assert payload["type"] in {"complete", "error"}, payload
                    self.terminal = payload
            self.last_id, self.last_seq = event.id, seq

    @property
    def terminal_status(self) -> str:
        assert self.terminal is not None
        key = "complete" if self.terminal["type"] == "complete" else self.terminal["code"]
        return TERMINAL_STATUS[key]


# Requests -----------------------------------------------------------------------------------------


@dataclass
class SendRecord:
    """One client_message_id and its message, as the client sends it."""

    client_message_id: str
    text: str
    kind: str = "chat"


@dataclass
class Reply:
    """A send's response: its status, the answer it names, and the stream read if any."""

    status_code: int
    answer_id: str | None = None
    viewer: Viewer | None = None
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def error_code(self) -> str | None:
        error = self.body.get("error")
        return error.get("code") if isinstance(error, dict) else None


def _json(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        return {"text": text}
    return body if isinstance(body, dict) else {"body": body}


async def read_within(reader: StreamReader, timeout_s: float = STREAM_TIMEOUT_S) -> None:
    """Read a stream; one that neither ends nor is dropped in time is a failure, not a hang."""
    try:
        async with asyncio.timeout(timeout_s):
            await reader.run()
    except TimeoutError:
        raise AssertionError(
            f"{reader.path} {reader.params} {reader.request_headers}: no end after {timeout_s} s;"
            f" {reader.status_code}, events {[e.id for e in reader.events]}"
        ) from None


class ChatClient:
    """The requests a front end makes for one account (docs/api.md)."""

    def __init__(self, http: httpx.AsyncClient, account: Account) -> None:
        self.http = http
        self.account = account

    def stream_params(self, send: SendRecord, regenerate: bool) -> dict[str, str]:
        params = {
            "message": send.text,
            "client_message_id": send.client_message_id,
            "token": self.account.access_token,
        }
        if regenerate:
            params["regenerate"] = "true"
        return params

    async def read(
        self,
        viewer: Viewer,
        *,
        stop_after: int | None,
        last_event_id: str | None = None,
        in_query: bool = False,
    ) -> StreamReader:
        """GET the viewer's stream after `last_event_id` (in the Last-Event-ID header, or the
        `last_event_id` query parameter); its events go into the viewer."""
        params, headers = viewer.params, {}
        if last_event_id and in_query:
            params = {**params, "last_event_id": last_event_id}
        elif last_event_id:
            headers = {"Last-Event-ID": last_event_id}
        reader = StreamReader(self.http, viewer.path, params, headers, stop_after)
        await read_within(reader)
        if reader.status_code == 200:
            viewer.take(reader.events)
        return reader

    def watcher(self, answer_id: str, action: str = "stream") -> Viewer:
        path = f"/api/v1/chat/messages/{answer_id}/{action}"
        return Viewer(path, {"token": self.account.access_token})

    async def send(
        self,
        send: SendRecord,
        endpoint: str,
        *,
        regenerate: bool = False,
        stop_after: int | None = None,
    ) -> Reply:
        """Send by `endpoint`: `stream` (GET .../stream), `message` (POST, the whole answer),
        `turns` (POST /chat/turns, nobody reads the answer) or `turns+watch` (and then read
        it); on the endpoint of `send.kind`."""
        onboarding = send.kind == "onboarding"
        if endpoint == "stream":
            path = ONBOARDING_STREAM_PATH if onboarding else STREAM_PATH
            viewer = Viewer(path, self.stream_params(send, regenerate))
            reader = StreamReader(self.http, path, viewer.params, {}, stop_after)
            await read_within(reader)
            assert reader.status_code is not None
            if reader.status_code != 200:
                return Reply(reader.status_code, body=_json(reader.body))
            viewer.take(reader.events)
            return Reply(200, viewer.message_id, viewer)
        body: dict[str, Any] = {
            "message": send.text,
            "client_message_id": send.client_message_id,
            "regenerate": regenerate,
        }
        if endpoint == "message":
            path = "/api/v1/chat/onboarding-message" if onboarding else "/api/v1/chat/message"
        else:
            path = "/api/v1/chat/turns"
            body["kind"] = send.kind
        response = await self.http.post(path, json=body, headers=self.account.auth)
        reply = Reply(response.status_code, body=_json(response.text))
        if response.status_code not in {200, 202}:
            return reply
        reply.answer_id = reply.body["assistant_message"]["id"]
        if endpoint == "turns+watch":
            assert reply.answer_id is not None
            reply.viewer = self.watcher(reply.answer_id)
            watched = await self.read(reply.viewer, stop_after=stop_after)
            assert watched.status_code == 200, f"watching a send's answer: {watched.body}"
        return reply

    async def cancel(self, answer_id: str) -> httpx.Response:
        return await self.http.post(
            f"/api/v1/chat/messages/{answer_id}/cancel", headers=self.account.auth
        )

    async def cancel_send(self, client_message_id: str) -> httpx.Response:
        return await self.http.post(
            "/api/v1/chat/cancel",
            json={"client_message_id": client_message_id},
            headers=self.account.auth,
        )


# What is stored -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A message of the user, as committed, with its conversation's kind."""

    id: str
    role: str
    kind: str
    status: str
    content: str
    client_message_id: str | None
    reply_to_id: str | None
    stream_offset: int
    chunk_count: int | None

    @property
    def terminal_seq(self) -> int:
        """Its terminal event's seq: chunk i is seq i + 1 + stream_offset (docs/api.md)."""
        return (self.chunk_count or 0) + 1 + self.stream_offset


async def stored_rows(probe: DbProbe, user_id: str) -> list[Row]:
    def read(session: Session) -> list[Row]:
        query = (
            select(Message, Conversation.kind)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.user_id == uuid.UUID(user_id))
        )
        return [
            Row(
                id=str(message.id),
                role=message.role,
                kind=kind,
                status=message.status,
                content=message.content,
                client_message_id=message.client_message_id,
                reply_to_id=str(message.reply_to_id) if message.reply_to_id else None,
                stream_offset=message.stream_offset or 0,
                chunk_count=message.chunk_count,
            )
            for message, kind in session.execute(query)
        ]

    return await probe.database.run(read)
