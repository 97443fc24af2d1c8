"""Answers told again from the database: exact resumes, and a reader that was sent more than
the database kept (its process died between two checkpoints) told what was kept."""

from __future__ import annotations

import asyncio
import json
import uuid

from app.db.models import Message, MessageStatus, Role
from app.streaming.buffer import StreamBuffer
from app.streaming.replay import stored_answer_buffer, terminal_seq


def _stored(chunks: list[str], status: MessageStatus, stream_offset: int = 0) -> Message:
    ends, at = [], 0
    for chunk in chunks:
        at += len(chunk)
        ends.append(at)
    return Message(
        id=uuid.uuid4(),
        conversation_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        role=Role.ASSISTANT,
        content="".join(chunks),
        status=status,
        chunk_count=len(chunks),
        chunk_ends=ends,
        stream_offset=stream_offset,
    )


def _events(buffer: StreamBuffer) -> list[tuple[int, dict[str, object]]]:
    async def read() -> list[bytes]:
        return [frame async for frame in buffer.read(-1, 1.0) if frame is not None]

    events = []
    for frames in asyncio.run(read()):
        for frame in frames.split(b"\n\n"):
            if not frame:
                continue
            lines = dict(line.split(": ", 1) for line in frame.decode().split("\n"))
            events.append((int(lines["id"].rsplit(":", 1)[1]), json.loads(lines["data"])))
    return events


def test_a_resume_inside_the_stored_answer_gets_the_rest_exactly() -> None:
    stored = _stored(["Once", " upon", " a"], MessageStatus.INTERRUPTED)
    events = _events(stored_answer_buffer(stored, uuid.uuid4(), after_seq=1))
    assert [seq for seq, _ in events] == [2, 3, 4]
    assert [event["type"] for _, event in events] == ["chunk", "chunk", "error"]
    assert "content" not in events[-1][1]
    assert terminal_seq(stored) == 4


def test_a_reader_sent_more_than_was_stored_is_told_the_kept_text_after_its_own_last_id() -> None:
    stored = _stored(["Once", " upon", " a"], MessageStatus.INTERRUPTED)
    events = _events(stored_answer_buffer(stored, uuid.uuid4(), after_seq=9))
    assert len(events) == 1
    seq, ending = events[0]
    assert seq == 10  # past the reader's own last id, which it would otherwise skip
    assert ending["type"] == "error"
    assert ending["code"] == "internal" and ending["retryable"] is True
    assert ending["content"] == "Once upon a"


def test_a_continued_answer_past_its_end_is_told_whole_in_its_complete_event() -> None:
    stored = _stored(["Once", " upon", " a", " time"], MessageStatus.COMPLETE, stream_offset=2)
    assert terminal_seq(stored) == 7
    events = _events(stored_answer_buffer(stored, uuid.uuid4(), after_seq=8))
    assert [(seq, event["type"], event.get("content")) for seq, event in events] == [
        (9, "complete", "Once upon a time")
    ]
