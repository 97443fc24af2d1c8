"""One exception hierarchy: each error carries its code and HTTP status; one handler renders it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.schemas.errors import ErrorBody, ErrorInfo, FieldError


class AppError(Exception):
    status_code = 500
    code = "internal"
    message = "Something went wrong on our side."

    def __init__(self, message: str | None = None, *, headers: Mapping[str, str] | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.headers = dict(headers or {})


class BadRequest(AppError):
    status_code = 400
    code = "bad_request"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"
    message = "Missing, invalid or expired token."

    def __init__(self, message: str | None = None):
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class AccountGone(Unauthorized):
    """A valid token whose account has been removed since it was issued."""

    message = "The account of this token no longer exists."


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    message = "Incorrect email or password."


class TokenExpired(Unauthorized):
    code = "token_expired"
    message = "The access token has expired: refresh it (POST /api/v1/auth/refresh)."


class RefreshTokenInvalid(Unauthorized):
    code = "refresh_token_invalid"
    message = "No valid refresh token: missing, unknown, expired or signed out. Sign in again."


class RefreshTokenReused(Unauthorized):
    code = "refresh_token_reused"
    message = (
        "This refresh token was already used, so it may have been stolen: every session of "
        "this sign-in has been ended. Sign in again."
    )


class CsrfHeaderMissing(AppError):
    status_code = 403
    code = "csrf_header_missing"
    message = (
        "This call needs an X-Requested-With header (any value): a cross-site form cannot send one."
    )


class StreamingDisabled(AppError):
    status_code = 403
    code = "streaming_disabled"
    message = "Streaming is not enabled for this account; use POST /api/v1/chat/message."


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    message = "Not found."


class ConversationNotFound(NotFound):
    message = "Conversation not found."


class MessageNotFound(NotFound):
    message = "Message not found."


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class EmailTaken(Conflict):
    code = "email_taken"
    message = "An account with this email already exists."


class OnboardingAlreadyCompleted(Conflict):
    code = "onboarding_completed"
    message = "Onboarding is already complete."


class MessageTooLong(AppError):
    status_code = 413
    code = "message_too_long"


class EmptyMessage(AppError):
    status_code = 422
    code = "empty_message"
    message = "The message is empty."


class UnstorableMessage(AppError):
    status_code = 422
    code = "invalid_message"
    message = "The message contains a NUL character, which cannot be stored."


class UnknownOnboardingQuestion(AppError):
    status_code = 422
    code = "validation_error"
    message = "No onboarding question has this key."


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int):
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_s))})
        self.retry_after_s = max(1, retry_after_s)


class LLMError(AppError):
    status_code = 502
    code = "llm_error"
    message = "The language model failed to answer. Please try again."


class GenerationTimedOut(AppError):
    status_code = 504
    code = "timeout"
    message = "The model stopped responding. Please try again."


class DatabaseUnavailable(AppError):
    status_code = 503
    code = "database_unavailable"
    message = "The database is unreachable. Please try again shortly."


class StreamLogUnavailable(AppError):
    status_code = 503
    code = "stream_log_unavailable"
    message = "The server cannot reach its stream log (Redis). Please try again shortly."

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "2"})


class StreamLogTimeout(StreamLogUnavailable):
    """Redis took longer than its timeout to answer: it may be down, stalled, or this server too
    busy to read its answers in time (past its capacity); the same code, a message that does not
    claim to know which."""

    message = "The server's stream log (Redis) did not answer in time. Please try again shortly."


# A request schema that refuses a value for a reason of its own raises PydanticCustomError with
# one of these codes as its type: the answer is then that error, as a service's check gives it.
SCHEMA_ERRORS: dict[str, type[AppError]] = {
    error.code: error for error in (EmptyMessage, UnstorableMessage)
}


def error_body(code: str, message: str, details: list[FieldError] | None = None) -> dict[str, Any]:
    info = ErrorInfo(code=code, message=message, details=details)
    return ErrorBody(error=info).model_dump(exclude_none=True)


def whole_body_refusal(error: Mapping[str, Any]) -> str | None:
    """Plain words for a body refused as a whole rather than one field of it: pydantic's own
    ("Input should be a valid dictionary or object to extract fields from") name its
    internals, not what the client sent wrong."""
    loc = tuple(error.get("loc", ()))
    kind = error.get("type")
    if kind == "json_invalid" and loc[:1] == ("body",):
        at = f" at character {loc[1]}" if len(loc) > 1 and isinstance(loc[1], int) else ""
        reason = (error.get("ctx") or {}).get("error")
        return f"The request body is not valid JSON{at}" + (f": {reason}." if reason else ".")
    if loc != ("body",):
        return None
    if kind == "missing":
        return "The request has no body: send a JSON object."
    if kind in ("model_attributes_type", "model_type", "dict_type"):
        return "The request body must be a JSON object, sent as application/json."
    return None


def install_error_handlers(app: FastAPI) -> None:
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import (
        DataError,
        DBAPIError,
        IntegrityError,
        NotSupportedError,
        OperationalError,
        ProgrammingError,
    )
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    # Errors in a statement or its data are bugs, not an outage: a 500, never "unavailable".
    statement_errors = (IntegrityError, DataError, ProgrammingError, NotSupportedError)

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        refused = SCHEMA_ERRORS.get(str(first.get("type")))
        if refused is not None:
            return JSONResponse(
                error_body(refused.code, str(first.get("msg") or refused.message)),
                status_code=refused.status_code,
            )
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        detail = first.get("msg", "Invalid request.")
        message = whole_body_refusal(first) or (f"{where}: {detail}" if where else str(detail))
        details = [FieldError(loc=list(e.get("loc", ())), msg=e.get("msg", "")) for e in errors]
        return JSONResponse(error_body("validation_error", message, details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot parse at all (JSON that is not UTF-8, a
            # broken form): malformed input like any other, the 422 every body route documents.
            details = [FieldError(loc=["body"], msg=str(exc.detail))]
            body = error_body("validation_error", f"body: {exc.detail}", details)
            return JSONResponse(body, status_code=422)
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RedisError)
    async def _stream_log_error(_: Request, exc: RedisError) -> JSONResponse:
        import structlog

        timed_out = isinstance(exc, RedisTimeoutError)
        structlog.get_logger("chatstream.errors").error(
            "stream_log_timeout" if timed_out else "stream_log_unavailable",
            error_type=type(exc).__name__,
        )
        unavailable = StreamLogTimeout() if timed_out else StreamLogUnavailable()
        return JSONResponse(
            error_body(unavailable.code, unavailable.message),
            status_code=unavailable.status_code,
            headers=unavailable.headers,
        )

    @app.exception_handler(PoolTimeout)
    async def _database_busy(_: Request, exc: PoolTimeout) -> JSONResponse:
        import structlog

        structlog.get_logger("chatstream.errors").warning("database_busy")
        return JSONResponse(
            error_body("database_busy", "The server is busy. Please try again in a moment."),
            status_code=503,
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    @app.exception_handler(OSError)
    async def _database_error(_: Request, exc: Exception) -> JSONResponse:
        import structlog

        log = structlog.get_logger("chatstream.errors")
        if isinstance(exc, statement_errors):
            log.error("database_error", error_type=type(exc).__name__, exc_info=exc)
            return JSONResponse(error_body(AppError.code, AppError.message), status_code=500)
        log.error("database_unavailable", error_type=type(exc).__name__)
        return JSONResponse(
            error_body(DatabaseUnavailable.code, DatabaseUnavailable.message), status_code=503
        )
