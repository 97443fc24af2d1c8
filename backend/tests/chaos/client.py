"""The chaos suite's clients: SSE readers that reconnect as a browser's EventSource does.

Raw asyncio streams rather than an HTTP library, so that one process holds a thousand streams
with CPU to spare on a small machine. Each send is followed to its terminal event: on a dropped
connection, a stream that ends without its terminal event, or an `error` event without an id
(the connection's, not the answer's), the client waits the stream's `retry:` delay and opens
the same URL again with `Last-Event-ID`. Everything it was told is kept in an `AnswerRun`.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

STREAM_PATH = "/api/v1/chat/stream"
TERMINAL = {"complete", "error"}
READ_LIMIT = 1 << 20

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class Event:
    """One SSE event; `id` is None when the event had no `id:` line of its own."""

    id: str | None
    payload: dict[str, Any]

    @property
    def seq(self) -> int:
        assert self.id is not None
        return int(self.id.rpartition(":")[2])

    @property
    def type(self) -> str:
        return str(self.payload.get("type"))


class EventParser:
    """The event-stream format, fed text as it arrives; unlike EventSource's `lastEventId`, an
    event's `id` is only its own `id:` line, so an anonymous `error` event stays anonymous."""

    def __init__(self) -> None:
        self._pending = ""
        self._data: list[str] = []
        self._id: str | None = None
        self.retry_ms: int | None = None

    def feed(self, text: str) -> list[Event]:
        lines = _LINE_BREAK.split(self._pending + text)
        self._pending = lines.pop()
        events: list[Event] = []
        for line in lines:
            if line == "":
                if self._data:
                    events.append(Event(self._id, json.loads("\n".join(self._data))))
                self._data, self._id = [], None
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                self._data.append(value)
            elif name == "id":
                self._id = value
            elif name == "retry" and value.isdigit():
                self.retry_ms = int(value)
        return events


@dataclass
class Connection:
    """One request of a send: what came back, through which upstream, and how it ended."""

    opened_at: float
    closed_at: float | None = None
    status: int | None = None
    upstream: str | None = None
    error_code: str | None = None
    events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    ended: str = ""  # terminal, dropped, anonymous error, no terminal, refused, http <status>

    def describe(self, t0: float) -> str:
        where = f" via {self.upstream}" if self.upstream else ""
        seqs = f" seq {self.first_seq}..{self.last_seq}" if self.first_seq is not None else ""
        code = f" {self.error_code}" if self.error_code else ""
        until = f"-{self.closed_at - t0:.2f}s" if self.closed_at is not None else ""
        return f"t={self.opened_at - t0:.2f}{until} {self.status}{code}{where}{seqs}: {self.ended}"


@dataclass
class AnswerRun:
    """One send followed to its end: every event its client received, over every connection."""

    client_message_id: str
    user_id: str
    started_at: float
    message_id: str | None = None
    events: list[Event] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    other_message_ids: set[str] = field(default_factory=set)
    told_204: bool = False
    gave_up: str | None = None
    ended_at: float | None = None

    @property
    def chunks(self) -> list[str]:
        return [str(e.payload["content"]) for e in self.events if e.type == "chunk"]

    @property
    def received(self) -> str:
        return "".join(self.chunks)

    @property
    def shown(self) -> str:
        """The text its client shows at the end: what it received, unless the terminal event
        carries the text that was kept instead (a crash lost what it was last sent)."""
        kept = self.terminals[-1].payload.get("content") if self.terminals else None
        return kept if isinstance(kept, str) else self.received

    @property
    def terminals(self) -> list[Event]:
        return [e for e in self.events if e.type in TERMINAL]

    @property
    def last_id(self) -> str | None:
        return self.events[-1].id if self.events else None

    def story(self, t0: float) -> str:
        lines = [c.describe(t0) for c in self.connections]
        if self.told_204:
            lines.append("then 204: as if it had the terminal event")
        if self.gave_up:
            lines.append(f"gave up: {self.gave_up}")
        return "; ".join(lines)


@dataclass
class HttpRecord:
    """A response with a 5xx status, as the client received it."""

    at: float
    status: int
    error_code: str | None
    upstream: str | None
    client_message_id: str


@dataclass
class StreamClient:
    """Sends through nginx at 127.0.0.1:`port` and follows each answer to its end."""

    port: int
    answer_deadline_s: float
    upstream_names: dict[str, str] = field(default_factory=dict)  # "127.0.0.1:P": "api-a"
    default_retry_ms: int = 3000
    server_errors: list[HttpRecord] = field(default_factory=list)

    async def follow(self, run: AnswerRun, message: str, token: str) -> AnswerRun:
        """Send `message` and read its answer, reconnecting, until its terminal event (or a
        204, or the deadline)."""
        query = urlencode(
            {"message": message, "token": token, "client_message_id": run.client_message_id}
        )
        target = f"{STREAM_PATH}?{query}"
        retry_ms = self.default_retry_ms
        deadline = run.started_at + self.answer_deadline_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                run.gave_up = f"no terminal event within {self.answer_deadline_s:.0f} s"
                break
            connection = Connection(time.monotonic())
            run.connections.append(connection)
            try:
                async with asyncio.timeout(remaining):
                    wait_s, retry_ms = await self._connect(run, target, connection, retry_ms)
            except TimeoutError:
                connection.ended = f"{connection.ended or 'open'}, cut at the deadline"
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                connection.ended = f"{connection.ended or 'dropped'} ({type(exc).__name__})"
                wait_s = retry_ms / 1000
            finally:
                connection.closed_at = time.monotonic()
            if run.terminals or run.told_204 or run.gave_up:
                break
            await asyncio.sleep(wait_s * random.uniform(0.5, 1.5))
        run.ended_at = time.monotonic()
        return run

    async def _connect(
        self, run: AnswerRun, target: str, connection: Connection, retry_ms: int
    ) -> tuple[float, int]:
        """One request; how long to wait before the next (if any) and the retry delay."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=READ_LIMIT)
        try:
            last_id = run.last_id
            resume = f"Last-Event-ID: {last_id}\r\n" if last_id else ""
            writer.write(
                f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                f"Cache-Control: no-cache\r\n{resume}Connection: close\r\n\r\n".encode()
            )
            await writer.drain()
            status, headers = await _read_head(reader)
            connection.status = status
            upstream = headers.get("x-upstream")
            connection.upstream = self.upstream_names.get(upstream or "", upstream)
            body = _Body(reader, headers)
            if status == 204:  # no body, whatever the headers say
                return self._refused(run, connection, status, headers, b"")
            if status != 200:
                return self._refused(run, connection, status, headers, await _read_all(body))
            return await self._read_events(run, connection, body, retry_ms)
        finally:
            writer.close()

    def _refused(
        self,
        run: AnswerRun,
        connection: Connection,
        status: int,
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[float, int]:
        code: str | None = None
        try:
            code = json.loads(body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            pass
        connection.error_code = code
        connection.ended = f"http {status}"
        if status >= 500:
            self.server_errors.append(
                HttpRecord(
                    connection.opened_at, status, code, connection.upstream, run.client_message_id
                )
            )
        if status == 204:
            run.told_204 = True
            return 0.0, self.default_retry_ms
        if status in (429, 503) or status >= 500:
            after = headers.get("retry-after", "")
            return (float(after) if after.isdigit() else 1.0), self.default_retry_ms
        run.gave_up = f"http {status} {code}"
        return 0.0, self.default_retry_ms

    async def _read_events(
        self, run: AnswerRun, connection: Connection, body: _Body, retry_ms: int
    ) -> tuple[float, int]:
        parser = EventParser()
        decoder = codecs.getincrementaldecoder("utf-8")()
        connection.ended = "ended without a terminal event"
        try:
            async for data in body:
                for event in parser.feed(decoder.decode(data)):
                    if parser.retry_ms is not None:
                        retry_ms = parser.retry_ms
                    if event.id is None:  # about the connection, not the answer: reconnect
                        connection.ended = f"anonymous {event.type} {event.payload.get('code')}"
                        return retry_ms / 1000, retry_ms
                    self._record(run, connection, event)
                    if event.type in TERMINAL:
                        connection.ended = f"terminal {event.type} {event.payload.get('code', '')}"
                        return 0.0, retry_ms
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            connection.ended = f"dropped ({type(exc).__name__})"
        return retry_ms / 1000, retry_ms

    @staticmethod
    def _record(run: AnswerRun, connection: Connection, event: Event) -> None:
        connection.events += 1
        if connection.first_seq is None:
            connection.first_seq = event.seq
        connection.last_seq = event.seq
        message_id = event.id.rpartition(":")[0] if event.id else None
        if run.message_id is None and message_id:
            run.message_id = message_id
        elif message_id and message_id != run.message_id:
            run.other_message_ids.add(message_id)
        run.events.append(event)


# HTTP/1.1, as little as a client of nginx needs ---------------------------------------------------


class _Body:
    """A response body as it arrives: chunked, sized, or up to the end of the connection."""

    def __init__(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> None:
        self._reader = reader
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._left = int(length) if length is not None and not self._chunked else None

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        if self._chunked:
            size_line = await self._reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                raise StopAsyncIteration
            data = await self._reader.readexactly(size + 2)
            return data[:-2]
        if self._left is not None:
            if self._left <= 0:
                raise StopAsyncIteration
            data = await self._reader.read(min(self._left, 65536))
            if not data:
                raise asyncio.IncompleteReadError(b"", self._left)
            self._left -= len(data)
            return data
        data = await self._reader.read(65536)
        if not data:
            raise StopAsyncIteration
        return data


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    status_line = await reader.readuntil(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    headers: dict[str, str] = {}
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def _read_all(body: _Body) -> bytes:
    parts = [part async for part in body]
    return b"".join(parts)
