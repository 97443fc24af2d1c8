"""uvicorn, run so that open streams end cleanly on shutdown instead of blocking it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn
from uvicorn.supervisors import multiprocess

from app.core.gc_tuning import tune_for_serving

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


def serve_metrics(port: int, host: str) -> None:
    """/metrics on its own port, aggregated over every worker, from the supervising process."""
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

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
    )
    if metrics_port is not None:
        serve_metrics(metrics_port, host)
    if workers > 1:
        # Each worker process builds its server from this module attribute.
        multiprocess.Server = ChatStreamServer  # type: ignore[attr-defined]
        multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        ChatStreamServer(config).run()
