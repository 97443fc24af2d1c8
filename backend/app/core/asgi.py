"""The application object: FastAPI, plus the server's own `send` for stream bodies.

A stream sends a frame per chunk, and each layer between it and the server (Starlette's error
middleware, the request-context middleware) wraps `send` in a coroutine of its own that only looks
at the start message. The outermost layer keeps the server's `send` in the scope; an SSE response
sends its start message through every layer, then its body frames straight to the server.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

SERVER_SEND_SCOPE_KEY = "chatstream.server_send"


class ChatStreamAPI(FastAPI):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[SERVER_SEND_SCOPE_KEY] = send
        await super().__call__(scope, receive, send)
