"""structlog set-up (console in development, JSON in production) and redaction of secrets."""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import structlog

from app.core.config import Settings

REDACTED = "[REDACTED]"
_SECRET_KEYS = re.compile(r"(token|password|secret|authorization|api_key|apikey|cookie)", re.I)
# Every pattern here runs on request data (the access log's path), so each is linear in its
# input: a match may start only where a run of its first characters starts (the look-behind),
# and runs are consumed possessively. Without that, a long run of one character costs
# quadratic time and one request line of 40 KB stalls the event loop for seconds.
# The password runs to the last `@` before the host: passwords may hold a raw `@`.
_URL_CREDENTIALS = re.compile(
    r"(?<![a-z0-9+.-])(?P<scheme>[a-z0-9+.-]++://)(?P<user>[^:/@\s]*+):(?P<pw>[^/\s]+)@", re.I
)
# `token=…`, `client_secret=…`, `password=…` in a URL, a bare query string or running text.
_QUERY_SECRET = re.compile(
    r"((?:^|(?<=[?&\s;,]))[a-z_]*(?:token|password|passwd|secret|api_?key)=)[^&\s\"']*+", re.I
)
_JWT = re.compile(
    r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}+\.[A-Za-z0-9_-]{5,}+\.[A-Za-z0-9_-]{5,}+"
)
# A logged query value longer than this is replaced by its length: no log line carries a
# request line's worth of one parameter.
_MAX_LOGGED_VALUE_CHARS = 200
# The query parameters of ChatStream's own routes whose values the access log shows (a test
# holds this to the OpenAPI schema). Any other parameter is something a client put in a URL
# (`?pw=...`): its value is logged by its length only, as the message text is.
LOGGED_QUERY_VALUES = frozenset(
    {
        "before",
        "client_message_id",
        "conversation_id",
        "kind",
        "last_event_id",
        "limit",
        "purpose",
        "regenerate",
    }
)
# A parameter name longer than this is logged by its length too.
_MAX_LOGGED_NAME_CHARS = 64
# The API's routes take at most a handful of parameters. Beyond this many only their number is
# logged: a request line of thousands of `&p=x` costs neither a long parse nor an 80 KB log line
# (that work runs on the event loop, between every stream's chunks).
_MAX_LOGGED_PARAMS = 16
# The API's paths are short. A longer one is logged as its first segment and its length.
_MAX_LOGGED_PATH_CHARS = 256


def redact_text(text: str) -> str:
    """Hide credentials in URLs, secret query parameters and anything shaped like a JWT."""
    # Every value of every log line comes through here. Each pattern needs a literal that most
    # values lack (`://`, `=`, `eyJ`, matched exactly whatever the pattern's case rule): looking
    # for it first costs a fraction of a search, and a value without it cannot match.
    if "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    if "=" in text:
        text = _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    return text


def redact_query_string(query: str) -> str:
    """A query string fit for a log: secrets hidden; the message text, any parameter the API
    does not define and any long value replaced by its length."""
    if not query:
        return ""
    pieces = query.split("&", _MAX_LOGGED_PARAMS)
    unlogged = pieces.pop().count("&") + 1 if len(pieces) > _MAX_LOGGED_PARAMS else 0
    parts = []
    for key, value in parse_qsl("&".join(pieces), keep_blank_values=True):
        if _SECRET_KEYS.search(key):
            value = REDACTED
        elif key not in LOGGED_QUERY_VALUES or len(value) > _MAX_LOGGED_VALUE_CHARS:
            value = f"<{len(value)} chars>"
        if len(key) > _MAX_LOGGED_NAME_CHARS:
            key = f"<{len(key)}-char name>"
        parts.append((key, value))
    logged = urlencode(parts, safe="[]<> ")
    return f"{logged}&<{unlogged} more parameters>" if unlogged else logged


def loggable_path(path: str) -> str:
    """The request path, or for an overlong one its first segment and its length."""
    if len(path) <= _MAX_LOGGED_PATH_CHARS:
        return path
    first_segment = path[: path.find("/", 1)] if 0 < path.find("/", 1) <= 64 else ""
    return f"{first_segment}/<{len(path)}-char path>"


@functools.lru_cache(maxsize=1024)
def _is_secret_key(key: str) -> bool:
    """A log field named like a secret (the fields are few: the answer is kept per name)."""
    return bool(_SECRET_KEYS.search(key)) and key != "token_scope"


def _redact_event(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if _is_secret_key(key):
            event_dict[key] = REDACTED
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


class LevelCheckedLogger(structlog.stdlib.BoundLogger):
    """structlog's standard-library logger, whose info and debug lines below the level return
    at once. `filter_by_level` drops them too, but only after structlog has built the event and
    raised its DropEvent: about 25 µs a line, and a stream writes four at `info`, which a
    deployment logging at `warning` never shows. The level is read on every call, from
    the standard library's cache, so a reconfigured level holds at once."""

    def debug(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        if self._logger.isEnabledFor(logging.DEBUG):
            return super().debug(event, *args, **kw)
        return None

    def info(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        if self._logger.isEnabledFor(logging.INFO):
            return super().info(event, *args, **kw)
        return None


def configure_logging(settings: Settings) -> None:
    """structlog and the standard library both render through one handler, with redaction."""
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.resolved_log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # Tracebacks become text before redaction (a secret in an exception message is hidden
        # too), for structlog's events and the standard library's (uvicorn, libraries) alike.
        structlog.processors.format_exc_info,
        _redact_event,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=LevelCheckedLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our middleware writes the access log, with secrets redacted; uvicorn's would not.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error", "celery", "alembic"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
