"""Fixtures and helpers for the streaming tests: a recording model, a stream reader, DB probes."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.db.models import Message
from app.db.session import EngineDatabase, create_engine
from app.llm.scripted import ScriptedChatModel, split_into_chunks
from tests.helpers import new_client_id, poll_until, poll_value
from tests.sse_client import SSEEvent, SSEParser

STREAM_PATH = "/api/v1/chat/stream"
ONBOARDING_STREAM_PATH = "/api/v1/chat/onboarding-stream"

T = TypeVar("T")


# The model ------------------------------------------------------------------------------------


class RecordingModel(ScriptedChatModel):
    """The scripted model, counting its calls and recording every chunk it hands out, and when.

    `on_call` (an async callable) runs when the model is called, before its first chunk.
    `stopped_early` is set when its stream ended before the script did (cancelled or failed).
    """

    calls: int = 0
    emitted: list[tuple[float, str]] = Field(default_factory=list)
    stopped_early: bool = False
    on_call: Any = None

    @classmethod
    def paced(
        cls, text: str | None = None, *, delay_s: float = 0.0, **kwargs: Any
    ) -> RecordingModel:
        model = cls.from_text(text, delay_s=delay_s, **kwargs)
        assert isinstance(model, RecordingModel)
        return model

    @property
    def full_text(self) -> str:
        return "".join(self.chunks)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.calls += 1
        if self.on_call is not None:
            await self.on_call()
        finished = False
        try:
            async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
                self.emitted.append((time.perf_counter(), chunk.text))
                yield chunk
            finished = True
        finally:
            if not finished:
                self.stopped_early = True


def words(count: int, word: str = "word") -> str:
    """A text of `count` scripted chunks (one per word)."""
    text = " ".join(f"{word}{i}" for i in range(count))
    assert len(split_into_chunks(text)) == count
    return text


# Reading a stream -----------------------------------------------------------------------------


@dataclass
class StreamReader:
    """Reads one SSE response as it arrives; `events` grows live, so another task can watch it.

    With `stop_after`, the client closes the connection after that many events (a cut).
    """

    client: httpx.AsyncClient
    path: str
    params: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)
    stop_after: int | None = None
    status_code: int | None = None
    response_headers: httpx.Headers | None = None
    body: str = ""
    raw: list[str] = field(default_factory=list)
    events: list[SSEEvent] = field(default_factory=list)
    parser: SSEParser = field(default_factory=SSEParser)
    ended_by_server: bool = False

    async def run(self) -> StreamReader:
        async with self.client.stream(
            "GET", self.path, params=self.params, headers=self.headers
        ) as response:
            self.status_code = response.status_code
            self.response_headers = response.headers
            if response.status_code != 200:
                await response.aread()
                self.body = response.text
                return self
            async for text in response.aiter_text():
                self.raw.append(text)
                for event in self.parser.feed(text):
                    self.events.append(event)
                    if self.stop_after is not None and len(self.events) >= self.stop_after:
                        return self  # leaving the block closes the connection mid-stream
            self.ended_by_server = True
        return self

    @property
    def text(self) -> str:
        return "".join(self.raw)

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [event.json for event in self.events]

    @property
    def types(self) -> list[str]:
        return [payload["type"] for payload in self.payloads]

    @property
    def chunk_text(self) -> str:
        return "".join(p["content"] for p in self.payloads if p["type"] == "chunk")

    @property
    def terminal(self) -> dict[str, Any]:
        payload = self.payloads[-1]
        assert payload["type"] in {"complete", "error"}, self.types
        return payload

    @property
    def message_id(self) -> str:
        start = self.payloads[0]
        assert start["type"] == "start", self.types
        value: str = start["message_id"]
        return value

    @property
    def seqs(self) -> list[int]:
        return [event_seq(event) for event in self.events]

    def wait_for_events(self, count: int, timeout_s: float = 10.0) -> Awaitable[None]:
        return poll_until(lambda: len(self.events) >= count, timeout_s)


def event_seq(event: SSEEvent) -> int:
    assert event.id is not None
    _, _, seq = event.id.rpartition(":")
    return int(seq)


async def read_stream(
    client: httpx.AsyncClient,
    params: dict[str, str],
    *,
    path: str = STREAM_PATH,
    headers: dict[str, str] | None = None,
    stop_after: int | None = None,
) -> StreamReader:
    return await StreamReader(client, path, params, headers or {}, stop_after).run()


def stream_params(token: str, message: str = "Hello", **extra: str) -> dict[str, str]:
    return {"message": message, "token": token, "client_message_id": new_client_id(), **extra}


def assert_well_formed(reader: StreamReader) -> None:
    """One stream per DESIGN.md §3: start, chunks, one terminal, ids `<message_id>:<seq>` 0..n."""
    types = reader.types
    assert types[0] == "start", types
    assert types[-1] in {"complete", "error"}, types
    assert set(types[1:-1]) <= {"chunk"}, types
    message_id = reader.message_id
    assert [event.id for event in reader.events] == [
        f"{message_id}:{seq}" for seq in range(len(reader.events))
    ]
    chunks = [p for p in reader.payloads if p["type"] == "chunk"]
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert all(event.event == "message" for event in reader.events)


# Accounts -------------------------------------------------------------------------------------


# One home for these (tests/helpers.py); re-exported for the tests that import them here.
from tests.helpers import Account as Account  # noqa: E402
from tests.helpers import new_account as new_account  # noqa: E402
from tests.helpers import stream_token as stream_token  # noqa: E402

# Waiting --------------------------------------------------------------------------------------


# The database, read from outside the app --------------------------------------------------------


@dataclass(frozen=True)
class StoredMessage:
    id: uuid.UUID
    role: str
    content: str
    status: str
    error_code: str | None
    chunk_count: int | None
    ttft_ms: int | None
    duration_ms: int | None
    client_message_id: str | None


class DbProbe:
    """Reads messages over a connection of its own, so a test sees what is really committed."""

    def __init__(self, database_url: str) -> None:
        # Through the async engine even on SQLite: plain reads, never the app's BEGIN IMMEDIATE
        # (a probe must see rows while another connection holds the write lock).
        self.database = EngineDatabase(create_engine(database_url, poolclass=NullPool))

    async def message(self, message_id: str | uuid.UUID) -> StoredMessage | None:
        def read(session: Session) -> StoredMessage | None:
            row = session.get(Message, uuid.UUID(str(message_id)))
            return _stored(row) if row is not None else None

        return await self.database.run(read)

    async def messages_of_user(self, user_id: str | uuid.UUID) -> list[StoredMessage]:
        def read(session: Session) -> list[StoredMessage]:
            rows = session.scalars(
                select(Message)
                .where(Message.user_id == uuid.UUID(str(user_id)))
                .order_by(Message.created_at)
            )
            return [_stored(row) for row in rows]

        return await self.database.run(read)

    async def wait_for_message(
        self,
        message_id: str | uuid.UUID,
        accept: Callable[[StoredMessage], bool],
        timeout_s: float = 10.0,
    ) -> StoredMessage:
        found = await poll_value(
            lambda: self.message(message_id),
            lambda m: m is not None and accept(m),
            timeout_s,
        )
        assert found is not None
        return found

    async def dispose(self) -> None:
        await self.database.dispose()

    async def __aenter__(self) -> DbProbe:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.dispose()


def _stored(row: Message) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        role=row.role,
        content=row.content,
        status=row.status,
        error_code=row.error_code,
        chunk_count=row.chunk_count,
        ttft_ms=row.ttft_ms,
        duration_ms=row.duration_ms,
        client_message_id=row.client_message_id,
    )


def finished(message: StoredMessage) -> bool:
    return message.status != "streaming"
