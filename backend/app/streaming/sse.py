"""SSE framing: the only place that turns events into bytes on the wire."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from json.encoder import encode_basestring

from app.streaming.events import ChunkEvent, CompleteEvent, StatusEvent, StreamEvent

PING_FRAME = b": ping\n\n"
SSE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]


def retry_frame(retry_ms: int) -> bytes:
    return f"retry: {retry_ms}\n\n".encode()


# Built once: json.dumps with non-default options makes a new encoder on every call.
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_event(message_id: uuid.UUID | str, seq: int, event: StreamEvent) -> bytes:
    """One event: `id: <message_id>:<seq>` and one line of JSON data.

    JSON escapes CR and LF inside strings, so `data` is always a single line whatever the model
    wrote.
    """
    if isinstance(event, ChunkEvent):
        return encode_chunk(f"id: {message_id}:", seq, event.content, event.index)
    data = _event_json(event)
    return f"id: {message_id}:{seq}\ndata: {data}\n\n".encode()


def encode_anonymous_event(event: StreamEvent | StatusEvent) -> bytes:
    """An event without an `id:`, for what the connection (not the answer) met, or a status of
    the moment (`queued`): a client reconnecting keeps the id of the last event of the answer
    it saw."""
    return f"data: {_event_json(event)}\n\n".encode()


def _event_json(event: StreamEvent | StatusEvent) -> str:
    if isinstance(event, CompleteEvent):  # `onboarding: null` is part of every chat complete
        return event.model_dump_json(exclude={"content"} if event.content is None else None)
    return event.model_dump_json(exclude_none=True)


def encode_chunk(id_prefix: str, seq: int, content: str, index: int) -> bytes:
    """The hot path: a chunk event without building a model (`id_prefix` is `id: <id>:`).

    Byte for byte what `_encode_json` makes of the same dict, with only the string escaped by
    json's C encoder (a dict goes through the slower general encoder).
    """
    return (
        f'{id_prefix}{seq}\ndata: {{"type":"chunk","content":{encode_basestring(content)},'
        f'"index":{index}}}\n\n'
    ).encode()


def encode_start(
    message_id: uuid.UUID, seq: int, conversation_id: uuid.UUID, user_message_id: uuid.UUID
) -> bytes:
    """A new answer's `start` event (no prefix) without building a model: byte for byte what
    `encode_event` makes of its StartEvent (ids only, which JSON never escapes)."""
    return (
        f'id: {message_id}:{seq}\ndata: {{"type":"start","message_id":"{message_id}",'
        f'"conversation_id":"{conversation_id}","user_message_id":"{user_message_id}"}}\n\n'
    ).encode()


@dataclass(frozen=True, slots=True)
class EventId:
    message_id: uuid.UUID
    seq: int

    def __str__(self) -> str:
        return f"{self.message_id}:{self.seq}"


def parse_event_id(raw: str | None) -> EventId | None:
    """Parse `<message_id>:<seq>`; None if absent or malformed (the stream then starts over)."""
    if not raw:
        return None
    message_part, _, seq_part = raw.strip().rpartition(":")
    try:
        seq = int(seq_part)
        message_id = uuid.UUID(message_part)
    except ValueError:
        return None
    return EventId(message_id, seq) if seq >= 0 else None
