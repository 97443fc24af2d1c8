"""Frames handed to a waiting reader's writer: in order, once, and never past a slow send; the
frames appended in one loop tick joined, in one write."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message

from app.streaming.buffer import InMemoryStreamBuffer
from app.streaming.response import DirectFrameWriter, SSEResponse, remember_server_send


class ServerSend:
    """An ASGI send like uvicorn's: done at once unless `paused`, then it waits for `resume`."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.paused = False
        self._writable = asyncio.Event()
        self._writable.set()
        self.fail_with: Exception | None = None
        self.in_flight = 0
        self.most_in_flight = 0

    def pause(self) -> None:
        self.paused = True
        self._writable.clear()

    def resume(self) -> None:
        self.paused = False
        self._writable.set()

    async def __call__(self, message: Message) -> None:
        # A stream's sends must not overlap: ASGI servers promise nothing about their order.
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.paused:
                await self._writable.wait()
            if self.fail_with is not None:
                raise self.fail_with
            if message["type"] == "http.response.body":
                self.written.append(message["body"])
        finally:
            self.in_flight -= 1


async def _read_all(buffer: InMemoryStreamBuffer, send: ServerSend, idle_s: float = 5.0) -> int:
    """What SSEResponse does; returns how many times the reader's own task had frames to send."""
    writer = DirectFrameWriter(send)
    woken = 0
    try:
        async for frames in buffer.read_direct(-1, idle_s, writer):
            woken += 1
            await writer.flush()
            await send({"type": "http.response.body", "body": frames or b"ping", "more_body": True})
        await writer.flush()
    finally:
        writer.discard()
    return woken


async def _waiting_reader(
    idle_s: float = 5.0,
) -> tuple[InMemoryStreamBuffer, ServerSend, asyncio.Task[int]]:
    buffer = InMemoryStreamBuffer()
    send = ServerSend()
    reader = asyncio.create_task(_read_all(buffer, send, idle_s))
    await asyncio.sleep(0)  # the reader is now waiting at the end of the buffer
    return buffer, send, reader


async def _tick() -> None:
    """One turn of the loop: the frames appended so far are handed over."""
    await asyncio.sleep(0)


async def test_a_caught_up_reader_is_not_woken_for_frames_its_writer_sends() -> None:
    buffer, send, reader = await _waiting_reader()
    for n in range(50):
        buffer.append(b"%d;" % n)
        await _tick()
        assert send.written[-1] == b"%d;" % n  # written before the reader's task ever ran
    buffer.close()
    assert await reader == 0
    assert b"".join(send.written) == b"".join(b"%d;" % n for n in range(50))


async def test_frames_appended_in_one_tick_go_out_in_one_write() -> None:
    buffer, send, reader = await _waiting_reader()
    buffer.append(b"a;")
    buffer.append(b"b;")
    buffer.append(b"c;")
    assert send.written == []  # not yet: at the end of this tick
    await _tick()
    assert send.written == [b"a;b;c;"]
    buffer.append(b"d;")
    buffer.close()  # the end in the same tick as the last frame: the reader ends after it
    assert await reader == 0
    assert send.written == [b"a;b;c;", b"d;"]


async def test_frames_behind_a_send_that_must_wait_follow_it_in_order() -> None:
    buffer, send, reader = await _waiting_reader()
    buffer.append(b"a;")
    await _tick()
    send.pause()  # the client stops reading: the next send cannot finish now
    buffer.append(b"b;")  # taken: it finishes in a task of its own once the client reads again
    await _tick()
    buffer.append(b"c;")  # refused by the writer: the reader sends it after b
    await _tick()
    buffer.append(b"d;")
    await asyncio.sleep(0.01)
    assert send.written == [b"a;"]
    send.resume()
    await asyncio.sleep(0.01)
    buffer.append(b"e;")
    buffer.close()
    await reader
    assert b"".join(send.written) == b"a;b;c;d;e;"
    assert send.most_in_flight == 1


async def test_a_send_that_fails_at_once_is_left_to_the_reader_which_meets_the_error() -> None:
    buffer, send, reader = await _waiting_reader()
    send.fail_with = ConnectionResetError("client went away")
    buffer.append(b"a;")  # the appending code is never the one to see the error
    with pytest.raises(ConnectionResetError):
        await reader  # the reader met the send's error


async def test_a_failed_slow_send_is_raised_in_the_reader_and_nothing_is_sent_after_it() -> None:
    buffer, send, reader = await _waiting_reader()
    send.pause()
    buffer.append(b"a;")
    await _tick()  # taken: its send waits for the client
    send.fail_with = BrokenPipeError("gone")
    send.resume()
    await asyncio.sleep(0.01)
    buffer.append(b"b;")  # refused: the failed send is waiting to be seen by the reader
    with pytest.raises(BrokenPipeError):
        await reader
    assert send.written == []


async def test_a_cancelled_reader_stops_its_unfinished_send() -> None:
    buffer, send, reader = await _waiting_reader()
    send.pause()
    buffer.append(b"a;")
    await _tick()  # taken: its send waits for the client
    reader.cancel()  # the client disconnected
    await asyncio.gather(reader, return_exceptions=True)
    send.resume()
    await asyncio.sleep(0.01)
    assert send.written == []


async def test_pings_still_come_while_no_frame_does_and_not_while_frames_flow() -> None:
    buffer, send, reader = await _waiting_reader(idle_s=0.1)
    for n in range(12):  # frames every 0.02 s for 0.24 s: always busy, never idle for 0.1 s
        await asyncio.sleep(0.02)
        buffer.append(b"%d;" % n)
    assert b"ping" not in send.written
    await asyncio.sleep(0.25)  # silent: pings, each from the reader's own task
    assert send.written.count(b"ping") >= 1
    for n in range(12, 20):  # and after them, every frame once
        buffer.append(b"%d;" % n)
        await asyncio.sleep(0)
    buffer.close()
    await reader
    frames = [w for w in send.written if w != b"ping"]
    assert b"".join(frames) == b"".join(b"%d;" % n for n in range(20))
    assert send.most_in_flight == 1


async def test_a_reader_without_a_writer_still_gets_every_frame() -> None:
    buffer = InMemoryStreamBuffer()
    received: list[bytes] = []

    async def read() -> None:
        async for frames in buffer.read(-1, 5.0):
            assert frames is not None
            received.append(frames)

    task = asyncio.create_task(read())
    await asyncio.sleep(0)
    for n in range(5):
        buffer.append(b"%d;" % n)
        await asyncio.sleep(0)
    buffer.close()
    await task
    assert b"".join(received) == b"0;1;2;3;4;"


async def _respond(buffer: InMemoryStreamBuffer, send: ServerSend) -> asyncio.Task[None]:
    """An SSEResponse of `buffer`, as the server runs it (its own send remembered): a method,
    which the frame writer can step as it steps uvicorn's."""
    scope: dict[str, object] = {"type": "http"}
    remember_server_send(scope, send.__call__)
    never = asyncio.Event()

    async def receive() -> Message:
        await never.wait()
        return {"type": "http.disconnect"}

    response = SSEResponse(
        buffer, after_seq=-1, generation=None, retry_ms=2500, ping_interval_s=5.0
    )
    assert DirectFrameWriter.supports(send.__call__)
    return asyncio.create_task(response(scope, receive, send.__call__))


@pytest.mark.parametrize("start_there", [True, False], ids=["new-answer", "nothing-yet"])
async def test_the_retry_field_goes_out_once_with_the_first_frames(start_there: bool) -> None:
    buffer, send = InMemoryStreamBuffer(), ServerSend()
    if start_there:  # a new answer: its start event is in the buffer before the response runs
        buffer.append(b"start;")
    response = await _respond(buffer, send)
    await _tick()
    if not start_there:  # the reader waits; the writer sends the first frames
        assert send.written == []
        buffer.append(b"start;")
        await _tick()
    buffer.append(b"a;")
    await _tick()
    buffer.append(b"b;")
    buffer.close()
    await asyncio.wait_for(response, 5)
    assert send.written[0] == b"retry: 2500\n\nstart;"
    assert send.written[1:] == [b"a;", b"b;", b""]


async def test_an_empty_stream_still_sends_its_retry_field() -> None:
    buffer, send = InMemoryStreamBuffer(), ServerSend()
    buffer.close()
    await asyncio.wait_for(await _respond(buffer, send), 5)
    assert send.written == [b"retry: 2500\n\n"]
