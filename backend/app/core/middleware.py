"""Pure ASGI middleware (BaseHTTPMiddleware would buffer streams and hide disconnects)."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import AppError, error_body
from app.core.logging import loggable_path, redact_query_string

access_log = structlog.get_logger("chatstream.access")
error_log = structlog.get_logger("chatstream.errors")

# On every response the app sends: JSON, errors, streams, the front end's files.
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class RequestContextMiddleware:
    """A request id on every log line of a request, security headers, and a redacted access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(SECURITY_HEADERS)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            # Logged here, once, with the request's context; answered (or ended) here too, so
            # the server does not log it again without that context.
            error_log.error("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
            with contextlib.suppress(Exception):  # the connection itself may be what failed
                await _end_with_error(send_with_headers, started=response_started)
        finally:
            if _access_logged():
                _log_access(scope, status, started)
            structlog.contextvars.unbind_contextvars("request_id")


def _access_logged() -> bool:
    # Its path and query are redacted only for a line that will be written.
    return logging.getLogger("chatstream.access").isEnabledFor(logging.INFO)


def _log_access(scope: Scope, status: int, started: float) -> None:
    query = redact_query_string(scope.get("query_string", b"").decode("latin-1"))
    path = loggable_path(scope.get("path", "")) + (f"?{query}" if query else "")
    client = scope.get("client")
    access_log.info(
        "http_request",
        method=scope.get("method"),
        path=path,
        status=status,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        client=f"{client[0]}:{client[1]}" if client else None,
    )


async def _end_with_error(send: Send, *, started: bool) -> None:
    """A JSON 500, or, if the response had begun, its end."""
    if started:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    body = json.dumps(error_body(AppError.code, AppError.message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")[:64]
            if candidate.replace("-", "").isalnum():
                return candidate
    return None
