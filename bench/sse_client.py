"""The benchmark's SSE client: lean, identical for both servers, run in a process of its own.

Raw asyncio protocols (uvloop when installed) with a minimal HTTP/1.1 response parser (status
line, headers, chunked or Content-Length bodies) and an SSE event splitter that only classifies
events by their `"type"`; JSON is parsed for the few non-chunk events only. One TCP connection
per stream, 127.0.0.1 only.

Usage: python bench/sse_client.py JOB.json   (the job is written by clients.py)
Job keys: host, port, mode ("streams" | "sequential"), paths (one request path per stream),
ramp_s (streams: spread the opens over this long), interval_s (paced: the chunk interval, for
delivery delays), record_arrivals, expected_chunks, stream_timeout_s, deadline_s, pause_s
(sequential: idle time between requests), announce_started (print a line once every stream has
its start event or has failed).
Output: the result JSON goes to the job's `result_path` (a file: megabytes of arrival times do
not belong in a pipe); stdout carries only short progress lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from typing import Any

monotonic = time.monotonic

CHUNK_MARK = b'"type":"chunk"'
START_MARK = b'"type":"start"'
COMPLETE_MARK = b'"type":"complete"'
ERROR_MARK = b'"type":"error"'
MAX_HEADER_BYTES = 65536
MAX_ERROR_BODY = 500


class SSEStream(asyncio.Protocol):
    """One request and its SSE response, parsed as bytes arrive."""

    def __init__(self, request: bytes, record_arrivals: bool, on_start: Any, on_end: Any) -> None:
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.on_start = on_start
        self.on_end = on_end
        self.buf = bytearray()
        self.sse = b""
        self.in_headers = True
        self.chunked = False
        self.length: int | None = None  # Content-Length body bytes still to read
        self.remaining = 0  # bytes of the current HTTP chunk still to read
        self.crlf = 0  # bytes of the CRLF after a chunk still to skip
        self.status = 0
        self.body_bytes = 0
        self.error_body = bytearray()
        self.t_sent = 0.0
        self.t_headers: float | None = None
        self.t_start: float | None = None
        self.t_end: float | None = None
        self.chunks = 0
        self.pings = 0
        self.arrivals: list[float] | None = [] if record_arrivals else None
        self.complete: dict[str, Any] | None = None
        self.error: str | None = None
        self.ended = False

    # asyncio callbacks -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.t_sent = monotonic()
        self.transport.write(self.request)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        t = monotonic()
        buf = self.buf
        buf += data
        if self.in_headers:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEADER_BYTES:
                    self._finish(t, "response headers too large")
                return
            self.in_headers = False
            self._headers(bytes(buf[:end]).decode("latin-1"), t)
            del buf[: end + 4]
            if self.ended:
                return
        if self.chunked:
            self._dechunk(t)
        else:
            self._plain(t)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended:
            self._finish(monotonic(), f"connection lost before the end ({exc or 'closed'})")

    # HTTP --------------------------------------------------------------------------------

    def _headers(self, head: str, t: float) -> None:
        self.t_headers = t
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        try:
            self.status = int(parts[1])
        except (IndexError, ValueError):
            self._finish(t, f"bad status line {lines[0][:80]!r}")
            return
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "transfer-encoding" and "chunked" in value.lower():
                self.chunked = True
            elif name == "content-length":
                self.length = int(value.strip())
        if not self.chunked and self.length == 0:
            self._finish(t, None if self.status == 200 else f"HTTP {self.status}")

    def _plain(self, t: float) -> None:
        data = bytes(self.buf)
        self.buf.clear()
        if self.length is not None:
            data = data[: self.length]
            self.length -= len(data)
        self._body(data, t)
        if self.length == 0 and not self.ended:
            self._finish(t, None)

    def _dechunk(self, t: float) -> None:
        buf = self.buf
        n = len(buf)
        pos = 0
        out: list[bytes] = []
        last = False
        while pos < n:
            if self.remaining:
                take = min(self.remaining, n - pos)
                out.append(bytes(buf[pos : pos + take]))
                pos += take
                self.remaining -= take
                if not self.remaining:
                    self.crlf = 2
            elif self.crlf:
                take = min(self.crlf, n - pos)
                pos += take
                self.crlf -= take
            else:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    break
                size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
                pos = eol + 2
                if size == 0:
                    last = True
                    break
                self.remaining = size
        del buf[:pos]
        if out:
            self._body(out[0] if len(out) == 1 else b"".join(out), t)
        if last and not self.ended:
            self._finish(t, None)

    # SSE ---------------------------------------------------------------------------------

    def _body(self, data: bytes, t: float) -> None:
        self.body_bytes += len(data)
        if self.status != 200:
            if len(self.error_body) < MAX_ERROR_BODY:
                self.error_body += data[: MAX_ERROR_BODY - len(self.error_body)]
            return
        text = self.sse + data if self.sse else data
        cut = text.rfind(b"\n\n")
        if cut < 0:
            self.sse = text
            return
        done = text[:cut]
        self.sse = text[cut + 2 :]
        # Chunk events are only counted (and timed): no per-event Python work on the hot path.
        chunks = done.count(CHUNK_MARK)
        if chunks:
            self.chunks += chunks
            if self.arrivals is not None:
                self.arrivals.extend([t] * chunks)
        if done.count(b"\n\n") + 1 == chunks:
            return
        for event in done.split(b"\n\n"):
            if not event or CHUNK_MARK in event:
                continue
            if event[0] == 58:  # ":" a comment, i.e. a ping
                self.pings += 1
            elif START_MARK in event:
                if self.t_start is None:
                    self.t_start = t
                    self.on_start()
            elif COMPLETE_MARK in event:
                self.complete = _event_json(event)
            elif ERROR_MARK in event:
                payload = _event_json(event) or {}
                self.error = f"error event: {payload.get('code')}: {payload.get('message')}"

    def _finish(self, t: float, error: str | None) -> None:
        if self.ended:
            return
        self.ended = True
        self.t_end = t
        if error is None and self.status != 200:
            body = bytes(self.error_body).decode("utf-8", "replace")
            error = f"HTTP {self.status}: {body[:200]}"
        if error is None and self.complete is None and self.error is None:
            error = "stream ended without a terminal event"
        if error is not None and self.error is None:
            self.error = error
        if self.transport is not None:
            self.transport.close()
        self.on_end(self)


def _event_json(event: bytes) -> dict[str, Any] | None:
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            try:
                value = json.loads(line[5:])
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


class Run:
    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self.host: str = job["host"]
        self.port: int = job["port"]
        self.n = len(job["paths"])
        self.started = 0
        self.failed_early = 0
        self.ended = 0
        self.announced = False
        self.streams: list[SSEStream] = []
        self.all_done = asyncio.Event()

    def request(self, path: str) -> bytes:
        return (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        ).encode()

    def _on_start(self) -> None:
        self.started += 1
        self._maybe_announce()

    def _on_end(self, stream: SSEStream) -> None:
        self.ended += 1
        if stream.t_start is None:
            self.failed_early += 1
            self._maybe_announce()
        if self.ended >= self.n:
            self.all_done.set()

    def _maybe_announce(self) -> None:
        if self.announced or not self.job.get("announce_started"):
            return
        if self.started + self.failed_early >= self.n:
            self.announced = True
            emit({"event": "all_started", "t": monotonic(), "started": self.started})

    async def open(self, path: str, delay: float) -> SSEStream:
        if delay > 0:
            await asyncio.sleep(delay)
        stream = SSEStream(
            self.request(path), bool(self.job.get("record_arrivals")), self._on_start, self._on_end
        )
        self.streams.append(stream)
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: stream, self.host, self.port)
        except OSError as exc:
            stream.t_sent = monotonic()
            stream._finish(monotonic(), f"connect failed: {exc}")
        return stream

    async def run_streams(self) -> None:
        ramp = float(self.job.get("ramp_s", 0.0))
        paths = self.job["paths"]
        base = monotonic()
        opens = []
        for i, path in enumerate(paths):
            delay = (base + ramp * i / max(1, self.n)) - monotonic() if ramp else 0.0
            opens.append(asyncio.ensure_future(self.open(path, delay)))
        deadline = float(self.job["deadline_s"])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_done.wait(), deadline)
        for task in opens:
            task.cancel()
        await asyncio.gather(*opens, return_exceptions=True)
        now = monotonic()
        for stream in self.streams:
            if not stream.ended:
                stream._finish(now, f"timed out after {deadline:.0f}s")

    async def run_sequential(self) -> None:
        pause = float(self.job.get("pause_s", 0.0))
        timeout = float(self.job["stream_timeout_s"])
        deadline = monotonic() + float(self.job["deadline_s"])
        for path in self.job["paths"]:
            if monotonic() > deadline:
                break
            self.all_done.clear()
            self.n = len(self.streams) + 1
            stream = await self.open(path, 0.0)
            try:
                await asyncio.wait_for(self.all_done.wait(), timeout)
            except TimeoutError:
                stream._finish(monotonic(), f"timed out after {timeout:.0f}s")
            if pause:
                await asyncio.sleep(pause)


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summarise(run: Run, wall: tuple[float, float], cpu_s: float) -> dict[str, Any]:
    job = run.job
    interval = float(job.get("interval_s") or 0.0)
    expected = job.get("expected_chunks")
    streams = []
    for s in run.streams:
        item: dict[str, Any] = {
            "t_sent": s.t_sent,
            "t_headers": s.t_headers,
            "t_start": s.t_start,
            "t_end": s.t_end,
            "status": s.status,
            "chunks": s.chunks,
            "pings": s.pings,
            "bytes": s.body_bytes,
            "complete": s.complete is not None,
            "error": s.error,
        }
        counted = s.complete.get("chunks") if s.complete is not None else None
        wrong_count = counted != expected or s.chunks != expected
        if s.complete is not None and expected is not None and wrong_count:
            item["error"] = item["error"] or (
                f"chunk count: received {s.chunks}, complete says {counted}, expected {expected}"
            )
        if s.arrivals is not None and s.t_start is not None and interval:
            t0 = s.t_start
            item["delays_ms"] = [
                round((a - (t0 + (k + 1) * interval)) * 1000.0, 3) for k, a in enumerate(s.arrivals)
            ]
        streams.append(item)
    return {
        "event": "result",
        "mode": job["mode"],
        "wall": list(wall),
        "cpu_s": cpu_s,
        "streams": streams,
    }


async def main_async(job: dict[str, Any]) -> dict[str, Any]:
    run = Run(job)
    cpu0 = _cpu_s()
    t0 = monotonic()
    if job["mode"] == "sequential":
        await run.run_sequential()
    else:
        await run.run_streams()
    t1 = monotonic()
    return summarise(run, (t0, t1), _cpu_s() - cpu0)


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as fh:
        job = json.load(fh)
    try:
        import uvloop
    except ImportError:  # uvloop comes with uvicorn[standard]; plain asyncio otherwise
        result = asyncio.run(main_async(job))
    else:
        result = uvloop.run(main_async(job))
    tmp = f"{job['result_path']}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh, separators=(",", ":"))
    os.replace(tmp, job["result_path"])
    emit({"event": "result_written"})


if __name__ == "__main__":
    main()
