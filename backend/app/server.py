"""uvicorn, run so that open streams end cleanly on shutdown instead of blocking it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn
from uvicorn.supervisors import multiprocess

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    HTTPTOOLS_AVAILABLE = True
except ImportError:  # httptools is optional: uvicorn then speaks h11
    HttpToolsProtocol = asyncio.Protocol  # type: ignore[misc, assignment]
    HTTPTOOLS_AVAILABLE = False

from app.core.gc_tuning import tune_for_serving
from app.core.middleware import SECURITY_HEADERS

# With h11 (when httptools is absent), a request head up to this size reaches the app.
MAX_REQUEST_HEAD_BYTES = 256 * 1024
# httptools parses URLs with 16-bit offsets: a longer request target cannot reach the app.
MAX_URL_BYTES = 65_535


class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing an unparsable request with ChatStream's JSON error
    body instead of text/plain; a URL too long to parse is a 414 that says what to do."""

    def send_400_response(self, msg: str) -> None:
        too_long = self.url is not None and len(self.url) > MAX_URL_BYTES
        status, code, message = (
            (414, "uri_too_long", "The URL is too long; send long messages with POST /chat/turns.")
            if too_long
            else (400, "bad_request", "The HTTP request is malformed.")
        )
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        reason = b"URI Too Long" if too_long else b"Bad Request"
        head = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        for name, value in [*self.server_state.default_headers, *SECURITY_HEADERS]:
            head.extend([name, b": ", value, b"\r\n"])
        head.append(
            b"content-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % len(body)
        )
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def http_protocol() -> type[asyncio.Protocol] | str:
    """httptools (fast) with JSON errors where it is installed, else h11 with a larger head."""
    return JsonErrorHttpToolsProtocol if HTTPTOOLS_AVAILABLE else "h11"


# Set by the app's lifespan: ends every stream with an event clients understand.
_shutdown_hooks: set[Callable[[], None]] = set()


def add_shutdown_hook(hook: Callable[[], None]) -> None:
    _shutdown_hooks.add(hook)


def remove_shutdown_hook(hook: Callable[[], None]) -> None:
    _shutdown_hooks.discard(hook)


class ChatStreamServer(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        tune_for_serving()  # the app is built and its lifespan has run: freeze what it made

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn waits for open connections before the lifespan shutdown runs, and an SSE
        # connection never closes by itself: end the streams first.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        for hook in list(_shutdown_hooks):
            if loop is not None:
                loop.call_soon_threadsafe(hook)
            else:
                hook()
        super().handle_exit(sig, frame)


class ChatStreamWorker(multiprocess.Process):
    """A `serve --workers N` worker that serves with ChatStreamServer, as one process does.

    Workers are spawned: each imports its modules afresh and unpickles this object, so the
    server class must come from the worker's own class (found by its import path), never from
    an attribute patched in the supervisor, which a spawned worker would not see.
    """

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = ChatStreamServer(config=self.config)
        return self._server


def serve_metrics(port: int, host: str) -> None:
    """/metrics on its own port, from the supervising process (aggregated over every worker)."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    registry = REGISTRY  # one process: its own samples, in memory
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr=host, registry=registry)


def run_server(*, host: str, port: int, workers: int, metrics_port: int | None = None) -> None:
    config = uvicorn.Config(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # our middleware logs requests with tokens redacted
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=15,
        # Long request lines reach the app (a JSON 413 beyond MAX_MESSAGE_CHARS) or get a JSON
        # 414 from the protocol, never uvicorn's text/plain 400.
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
        http=http_protocol(),
    )
    if metrics_port is not None:
        serve_metrics(metrics_port, host)
    if workers > 1:
        # The supervisor makes its workers from this module attribute, in this process.
        multiprocess.Process = ChatStreamWorker  # type: ignore[misc]
        multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        ChatStreamServer(config).run()
