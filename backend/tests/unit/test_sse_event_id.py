"""app/streaming/sse.parse_event_id: `<message_id>:<seq>` or nothing."""

from __future__ import annotations

import uuid

import pytest

from app.streaming.events import ChunkEvent
from app.streaming.sse import EventId, encode_event, parse_event_id

MESSAGE_ID = uuid.UUID("5f0c2d2e-8a55-4b43-9d6f-0d1c3a6a4e11")


def test_valid_event_id_is_parsed() -> None:
    assert parse_event_id(f"{MESSAGE_ID}:7") == EventId(MESSAGE_ID, 7)
    assert parse_event_id(f"{MESSAGE_ID.hex}:0") == EventId(MESSAGE_ID, 0)


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_event_id(f"  {MESSAGE_ID}:3\n") == EventId(MESSAGE_ID, 3)


def test_event_id_round_trips_through_the_wire_format() -> None:
    frame = encode_event(MESSAGE_ID, 12, ChunkEvent(content="hi", index=11)).decode()
    id_line = frame.splitlines()[0]
    assert parse_event_id(id_line.removeprefix("id: ")) == EventId(MESSAGE_ID, 12)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "7",
        f"{MESSAGE_ID}",
        f"{MESSAGE_ID}:",
        f"{MESSAGE_ID}:-1",
        f"{MESSAGE_ID}:1.5",
        f"{MESSAGE_ID}:seven",
        "not-a-uuid:3",
        ":3",
    ],
)
def test_absent_or_malformed_event_id_is_none(raw: str | None) -> None:
    assert parse_event_id(raw) is None
