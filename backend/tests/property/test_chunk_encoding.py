"""The hand-built chunk frame is exactly what the general JSON encoder makes of the event."""

from __future__ import annotations

import json
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from app.streaming.events import ChunkEvent, StartEvent
from app.streaming.sse import encode_chunk, encode_event, encode_start
from tests.property.strategies import chunk_text

MESSAGE_ID = "0b6f7c1e-3a52-4d8e-9a51-7d0c2b1f4e11"


@settings(max_examples=300)
@given(content=st.one_of(chunk_text, st.text()), seq=st.integers(1, 10**6))
def test_chunk_frame_matches_json_encoding(content: str, seq: int) -> None:
    content = content.encode("utf-8", "replace").decode("utf-8")  # as the agent cleans it
    frame = encode_chunk(f"id: {MESSAGE_ID}:", seq, content, seq - 1)
    expected = json.dumps(
        {"type": "chunk", "content": content, "index": seq - 1},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert frame == f"id: {MESSAGE_ID}:{seq}\ndata: {expected}\n\n".encode()
    # The event model's own JSON (pydantic's encoder, not ours) frames to the same bytes.
    event = ChunkEvent(content=content, index=seq - 1)
    assert frame == f"id: {MESSAGE_ID}:{seq}\ndata: {event.model_dump_json()}\n\n".encode()
    assert json.loads(frame.decode().split("data: ", 1)[1]) == {
        "type": "chunk",
        "content": content,
        "index": seq - 1,
    }


@given(st.uuids(), st.integers(0, 10**6), st.uuids(), st.uuids())
def test_start_frame_matches_the_start_events_encoding(
    message_id: uuid.UUID, seq: int, conversation_id: uuid.UUID, user_message_id: uuid.UUID
) -> None:
    event = StartEvent(
        message_id=str(message_id),
        conversation_id=str(conversation_id),
        user_message_id=str(user_message_id),
    )
    assert encode_start(message_id, seq, conversation_id, user_message_id) == encode_event(
        message_id, seq, event
    )
