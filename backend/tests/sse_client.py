"""A spec-compliant SSE parser (the WHATWG event-stream algorithm) and a streaming reader."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class SSEEvent:
    id: str | None
    data: str
    event: str = "message"
    received_at: float = field(default_factory=time.perf_counter)

    @property
    def json(self) -> dict[str, Any]:
        value = json.loads(self.data)
        assert isinstance(value, dict)
        return value


@dataclass
class ParsedStream:
    events: list[SSEEvent]
    comments: list[str]
    retry_ms: int | None


class SSEParser:
    """Incremental: feed text as it arrives, collect dispatched events."""

    def __init__(self) -> None:
        self._pending = ""
        self._data: list[str] = []
        self._event_type = ""
        self._last_id: str | None = None
        self.events: list[SSEEvent] = []
        self.comments: list[str] = []
        self.retry_ms: int | None = None

    def feed(self, text: str) -> list[SSEEvent]:
        self._pending += text
        lines = _LINE_BREAK.split(self._pending)
        # A trailing "\r" might be the first half of "\r\n": keep it pending.
        self._pending = lines.pop()
        if self._pending == "" and text.endswith("\r"):
            pass
        new: list[SSEEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                new.append(event)
        self.events.extend(new)
        return new

    def _line(self, line: str) -> SSEEvent | None:
        if line == "":
            if not self._data:
                self._event_type = ""
                return None
            event = SSEEvent(self._last_id, "\n".join(self._data), self._event_type or "message")
            self._data = []
            self._event_type = ""
            return event
        if line.startswith(":"):
            self.comments.append(line[1:].strip())
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event_type = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None


def parse_stream(text: str) -> ParsedStream:
    parser = SSEParser()
    parser.feed(text)
    return ParsedStream(parser.events, parser.comments, parser.retry_ms)


async def iter_events(response: httpx.Response) -> AsyncIterator[SSEEvent]:
    parser = SSEParser()
    async for text in response.aiter_text():
        for event in parser.feed(text):
            yield event


def event_types(events: Iterable[SSEEvent]) -> list[str]:
    return [e.json["type"] for e in events]
