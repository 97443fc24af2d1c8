"""app/core/logging: no token, password or key survives into a log line."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import logging as logging_module
from app.core.logging import (
    REDACTED,
    configure_logging,
    loggable_path,
    redact_query_string,
    redact_text,
)
from app.core.security import create_access_token, create_stream_token
from tests.fixtures.server import make_settings

SETTINGS = make_settings(Path("."))
ACCESS_JWT = create_access_token(SETTINGS, uuid.uuid4()).token
STREAM_JWT = create_stream_token(SETTINGS, uuid.uuid4()).token


def test_query_string_hides_tokens_and_keeps_the_rest() -> None:
    query = urlencode(
        {
            "token": STREAM_JWT,
            "client_message_id": "abc-123",
            "conversation_id": "c1",
            "last_event_id": "m:4",
        }
    )
    redacted = redact_query_string(query)
    assert STREAM_JWT not in redacted
    assert dict(parse_qsl(redacted)) == {
        "token": REDACTED,
        "client_message_id": "abc-123",
        "conversation_id": "c1",
        "last_event_id": "m:4",
    }


@pytest.mark.parametrize(
    "key", ["token", "access_token", "password", "api_key", "apikey", "client_secret", "TOKEN"]
)
def test_query_string_hides_every_secret_looking_parameter(key: str) -> None:
    redacted = redact_query_string(urlencode({key: "s3cr3t-value", "limit": "2"}))
    assert "s3cr3t-value" not in redacted
    assert dict(parse_qsl(redacted)) == {key: REDACTED, "limit": "2"}


def test_query_string_replaces_the_message_text_by_its_length() -> None:
    redacted = redact_query_string(urlencode({"message": "my private question"}))
    assert "private" not in redacted
    assert dict(parse_qsl(redacted)) == {"message": "<19 chars>"}


def test_query_string_with_repeated_and_blank_tokens_hides_them_all() -> None:
    redacted = redact_query_string(f"token={ACCESS_JWT}&token=&token={STREAM_JWT}")
    assert ACCESS_JWT not in redacted and STREAM_JWT not in redacted
    assert parse_qsl(redacted, keep_blank_values=True) == [("token", REDACTED)] * 3


def test_empty_query_string_stays_empty() -> None:
    assert redact_query_string("") == ""


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("connecting to postgresql+asyncpg://chat:hunter2@db:5432/app", "hunter2"),
        ("redis://:p4ssw0rd@cache:6379/0 is down", "p4ssw0rd"),
        ("GET /api/v1/chat/stream?message=x&token=abc.def.ghi&x=1", "abc.def.ghi"),
        ("/login?password=letmein123", "letmein123"),
        ("/x?access_token=tok123&y=2", "tok123"),
        ("/x?api_key=key-987 then", "key-987"),
        ("postgresql://chat:p@ss@w0rd@db/app", "ss@w0rd"),  # a raw `@` in the password
        ("token=abc123&message=hi", "abc123"),  # a bare query string
        ("retrying with password=letmein123", "letmein123"),
        ("oauth form client_secret=zz9&grant_type=x", "zz9"),
        (f"Authorization: Bearer {ACCESS_JWT}", ACCESS_JWT),
        (f"token in prose {STREAM_JWT}.", STREAM_JWT),
    ],
)
def test_redact_text_removes_credentials(text: str, secret: str) -> None:
    redacted = redact_text(text)
    assert secret not in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize(
    "text",
    [
        "user 42 opened conversation c1 at http://example.com/path?page=2",
        "mail ada@example.com about https://example.com:8443/a?tokens=2&x=a@b",
        "2 tokens used, password reset requested",
    ],
)
def test_redact_text_leaves_ordinary_text_alone(text: str) -> None:
    assert redact_text(text) == text


def test_log_lines_carry_no_secret(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    configure_logging(make_settings(tmp_path, log_level="info", log_format="json"))
    try:
        structlog.get_logger("chatstream.test").info(
            "request_seen",
            token=STREAM_JWT,
            password="letmein123",
            path=f"/api/v1/chat/stream?token={ACCESS_JWT}",
            database="postgresql://chat:hunter2@db/app",
            token_scope="stream",
        )
        logging.getLogger("some.library").warning("retrying with password=%s", "letmein123")
    finally:
        logging.getLogger().handlers[:] = []
    output = capsys.readouterr().err
    assert "request_seen" in output and "retrying" in output
    for secret in (STREAM_JWT, ACCESS_JWT, "hunter2", "letmein123"):
        assert secret not in output
    assert '"password": "[REDACTED]"' in output
    assert '"token_scope": "stream"' in output


# Inputs that make a backtracking pattern quadratic: long runs of one character, and runs of
# a pattern's own prefix (`eyJ`, a scheme, `token`). A request line can carry any of them.
_RUN = 1_000_000
WORST_INPUTS = {
    "one letter": "a" * _RUN,
    "jwt prefixes": "eyJ" * (_RUN // 3),
    "jwt-like segments": "eyJaaaaa." * (_RUN // 9),
    "schemes": "a://" * (_RUN // 4),
    "scheme then colons": "a://" + ":" * _RUN,
    "scheme then at signs": "a://:" + "@" * _RUN,
    "password without host": "a://u:" + "p" * _RUN,
    "digits and letters": "1a" * (_RUN // 2),
    "secret names": "?" + "token" * (_RUN // 5),
    "secret assignments": "token=" * (_RUN // 6),
    "ampersands": "&" * _RUN,
    "many parameters": "?" + "a=1&" * (_RUN // 4),
    "words": " a" * (_RUN // 2),
}


@pytest.mark.parametrize("text", WORST_INPUTS.values(), ids=WORST_INPUTS.keys())
def test_redaction_is_linear_on_a_megabyte_of_the_worst_input(text: str) -> None:
    # Linear patterns take at most about two seconds of CPU here; a backtracking one takes hours
    # on a megabyte (and seconds on a 40 KB request line). CPU time, not wall time: on a busy
    # machine the wall clock runs several times faster than this process gets the CPU.
    started = time.process_time()
    redact_text(text)
    redact_text(f"/api/v1/chat/stream?x={text}")
    redact_query_string(text)
    redact_query_string(f"pad={text}&token=t")
    assert time.process_time() - started < 5.0


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("dsn=1postgresql://chat:hunter2@db/app", "hunter2"),  # a scheme after a digit
        ("aaaa postgresql://chat:hunter2@db/app aaaa", "hunter2"),
        (f"a=b&token={'x' * 5000}&c=d", "x" * 5000),
    ],
)
def test_linear_patterns_still_find_every_credential(text: str, secret: str) -> None:
    assert secret not in redact_text(text)


def test_a_long_query_value_is_logged_as_its_length() -> None:
    assert redact_query_string(f"pad={'a' * 40_000}&limit=2") == "pad=<40000+chars>&limit=2"


def test_a_parameter_the_api_does_not_define_is_logged_by_its_length_only() -> None:
    redacted = redact_query_string("pw=secret&kind=chat&debug=&Pass=hunter2&limit=5")
    assert "secret" not in redacted and "hunter2" not in redacted
    assert parse_qsl(redacted, keep_blank_values=True) == [
        ("pw", "<6 chars>"),
        ("kind", "chat"),
        ("debug", "<0 chars>"),
        ("Pass", "<7 chars>"),
        ("limit", "5"),
    ]


def test_a_long_parameter_name_is_logged_by_its_length() -> None:
    assert redact_query_string(f"{'n' * 5_000}=1") == "<5000-char+name>=<1+chars>"


def test_every_query_parameter_of_the_api_is_known_to_the_access_log(tmp_path: Path) -> None:
    from app.core.logging import LOGGED_QUERY_VALUES
    from app.main import create_app

    schema = create_app(make_settings(tmp_path)).openapi()
    defined = {
        parameter["name"]
        for operations in schema["paths"].values()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query"
    }
    # The message and a search's words are logged by their length and the token hidden;
    # every other value is shown.
    assert defined - {"message", "q", "token"} == set(LOGGED_QUERY_VALUES)


def test_a_search_is_logged_by_its_length_not_its_words() -> None:
    from app.core.logging import redact_query_string

    assert redact_query_string("q=my+private+words&limit=5") == "q=<16+chars>&limit=5"


def test_thousands_of_parameters_are_logged_as_the_first_few_and_a_count() -> None:
    redacted = redact_query_string("limit=5&" + "&".join(f"p{i}=x" for i in range(5_000)))
    assert redacted.startswith("limit=5&p0=<1+chars>&")
    assert redacted.endswith("&<4985 more parameters>")
    assert len(redacted) < 400


def test_an_overlong_path_is_logged_as_its_first_segment_and_length() -> None:
    assert loggable_path("/api/v1/conversations/3f2b") == "/api/v1/conversations/3f2b"
    assert loggable_path("/healthz/" + "a" * 40_000) == "/healthz/<40009-char path>"
    assert loggable_path("/" + "a" * 40_000) == "/<40001-char path>"


def _redact_every_pattern(text: str) -> str:
    """redact_text without its look for each pattern's literal first."""
    text = logging_module._URL_CREDENTIALS.sub(
        lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text
    )
    text = logging_module._QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    return logging_module._JWT.sub(REDACTED, text)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "HTTPS://",
                "redis://",
                "u",
                ":",
                "p@ss",
                "@",
                "/",
                "?",
                "&",
                "=",
                "TOKEN",
                "Api_Key",
                "eyJ",
                "eyj",
                "abcde",
                ".",
                " ",
                "x",
            ]
        ),
        max_size=24,
    ).map("".join)
)
def test_redact_text_hides_what_every_pattern_would_hide(text: str) -> None:
    # redact_text skips a pattern whose literal is absent: that must never change its output.
    assert redact_text(text) == _redact_every_pattern(text)


def test_lines_below_the_level_are_skipped_and_a_new_level_holds_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Info lines return before structlog builds them, yet follow the level as it is now: a
    module's logger, cached at its first line, still obeys a level configured later."""
    log = structlog.get_logger("chatstream.level_test")
    configure_logging(make_settings(tmp_path, log_format="json", log_level="warning"))
    log.info("quiet_line")
    log.debug("quiet_debug")
    log.warning("loud_line")
    configure_logging(make_settings(tmp_path, log_format="json", log_level="debug"))
    log.info("now_shown", detail="x")
    log.debug("debug_shown")
    written = capsys.readouterr().err
    assert "quiet_line" not in written and "quiet_debug" not in written
    assert "loud_line" in written
    assert '"now_shown"' in written and '"detail": "x"' in written
    assert "debug_shown" in written
    assert isinstance(log.bind(), logging_module.LevelCheckedLogger)
