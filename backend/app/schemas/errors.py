"""The body of every error, and how the OpenAPI schema documents it per route."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

ERROR_BODY_REF = {"$ref": "#/components/schemas/ErrorBody"}
FASTAPI_VALIDATION_ERROR_REF = {"$ref": "#/components/schemas/HTTPValidationError"}


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where: `query`, `path` or `body`, then the field.")
    msg: str


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable and machine-readable; docs/api.md lists them by status.")
    message: str = Field(description="For people: what was wrong, and what to do.")
    # Left out of the body when there are none: never null, so the schema does not say it may be.
    details: list[FieldError] | SkipJsonSchema[None] = Field(
        default=None, description="`validation_error` only: every value refused."
    )


class ErrorBody(BaseModel):
    """Every error's body, whatever its status (docs/api.md, "Errors")."""

    error: ErrorInfo


# What each error status means, for the OpenAPI of the routes that answer it.
ERROR_STATUSES: dict[int, str] = {
    401: "Missing, malformed or expired token, or its account is gone (`unauthorized`).",
    403: "Streaming is not enabled for this account (`streaming_disabled`).",
    404: "Not found, or not the user's (`not_found`).",
    409: "A conflict with what is stored (`conflict`, `email_taken`, `onboarding_completed`).",
    413: "The message is longer than MAX_MESSAGE_CHARS (`message_too_long`).",
    414: "The URL is over 64 KB (`uri_too_long`): send long messages with POST /chat/turns.",
    422: (
        "Invalid input: `validation_error` (with `details`), `empty_message` (a blank "
        "message) or `invalid_message` (text no database can store)."
    ),
    429: "A rate limit refused it (`rate_limited`); `Retry-After` says when to try again.",
    502: "The model failed to answer (`llm_error`); the message is kept.",
    504: "The model stopped responding (`timeout`); the message is kept.",
}


def error_responses(
    *statuses: int, descriptions: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """A route's `responses` for the errors it answers, each with the body every error has;
    `descriptions` replaces the generic ones where a route says more."""
    described = {**ERROR_STATUSES, **(descriptions or {})}
    return {status: {"model": ErrorBody, "description": described[status]} for status in statuses}


def document_validation_errors(openapi: dict[str, Any]) -> dict[str, Any]:
    """The schema with the 422 FastAPI documents for every operation that takes input (its own
    `{detail: [...]}`) replaced by what app/core/errors.py answers: an ErrorBody."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorBody" not in schemas:
        definition = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(definition.pop("$defs", {}), ErrorBody=definition)
    for path in openapi.get("paths", {}).values():
        for operation in path.values():
            invalid = operation.get("responses", {}).get("422", {})
            content = invalid.get("content", {}).get("application/json", {})
            if content.get("schema") == FASTAPI_VALIDATION_ERROR_REF:
                invalid["description"] = ERROR_STATUSES[422]
                content["schema"] = dict(ERROR_BODY_REF)
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return openapi
