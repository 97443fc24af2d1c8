"""app/core/config.py: DESIGN.md §5 settings by their exact names, and the production guard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app.core.config import DEVELOPMENT_SECRET_KEY, Settings

PRODUCTION_REFUSAL = "SECRET_KEY is the built-in development secret; production refuses it"
LONG_SECRET = "k" * 48


@pytest.fixture(autouse=True)
def no_chatstream_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings read the process environment and ./.env: start every test from neither."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.chdir(tmp_path)


def _settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


# Each variable of DESIGN.md §5 (and the scripted model's), a value to set, and what it becomes.
DESIGN_SETTINGS: list[tuple[str, str, str, Any]] = [
    ("CHATSTREAM_ENV", "test", "chatstream_env", "test"),
    ("DATA_DIR", "/srv/chatstream", "data_dir", Path("/srv/chatstream")),
    ("DATABASE_URL", "postgresql+asyncpg://u@db/x", "database_url", "postgresql+asyncpg://u@db/x"),
    ("REDIS_URL", "redis://cache:6379/0", "redis_url", "redis://cache:6379/0"),
    ("CELERY_BROKER_URL", "redis://broker/1", "celery_broker_url", "redis://broker/1"),
    ("LLM_MODEL", "openai:gpt-4o-mini", "llm_model", "openai:gpt-4o-mini"),
    ("LOCAL_MODEL_PATH", "/models/x.gguf", "local_model_path", Path("/models/x.gguf")),
    ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1", "openai_base_url", "http://127.0.0.1:9/v1"),
    ("OPENAI_API_KEY", "sk-test", "openai_api_key", "sk-test"),
    ("SECRET_KEY", LONG_SECRET, "secret_key", LONG_SECRET),
    ("ACCESS_TOKEN_EXPIRE_MINUTES", "0.5", "access_token_expire_minutes", 0.5),
    ("STREAM_TOKEN_EXPIRE_SECONDS", "60", "stream_token_expire_seconds", 60),
    ("ENABLE_STREAMING", "true", "enable_streaming", True),
    ("STREAMING_ROLLOUT_PERCENT", "25", "streaming_rollout_percent", 25),
    ("MAX_MESSAGE_CHARS", "2000", "max_message_chars", 2000),
    ("STREAM_PING_INTERVAL_S", "5", "stream_ping_interval_s", 5.0),
    ("STREAM_IDLE_TIMEOUT_S", "12.5", "stream_idle_timeout_s", 12.5),
    ("STREAM_DISCONNECT_GRACE_S", "3", "stream_disconnect_grace_s", 3.0),
    ("RATE_LIMIT_CONCURRENT_STREAMS", "2", "rate_limit_concurrent_streams", 2),
    ("RATE_LIMIT_MESSAGES_PER_HOUR", "7", "rate_limit_messages_per_hour", 7),
    ("LOG_FORMAT", "json", "log_format", "json"),
    ("LOG_LEVEL", "debug", "log_level", "debug"),
    ("SCRIPTED_TEXT", "Fixed text.", "scripted_text", "Fixed text."),
    ("SCRIPTED_CHUNK_DELAY_S", "0.5", "scripted_chunk_delay_s", 0.5),
    ("SCRIPTED_FAIL_AFTER", "3", "scripted_fail_after", 3),
    ("SCRIPTED_STALL_AFTER", "4", "scripted_stall_after", 4),
]


@pytest.mark.parametrize(
    ("variable", "raw", "field", "expected"), DESIGN_SETTINGS, ids=[s[0] for s in DESIGN_SETTINGS]
)
def test_each_documented_environment_variable_sets_its_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, field: str, expected: Any
) -> None:
    before = getattr(_settings(), field)
    monkeypatch.setenv(variable, raw)
    after = getattr(_settings(), field)
    assert after == expected
    assert after != before  # the variable, not a default, produced the value


def test_defaults_are_the_documented_ones() -> None:
    settings = _settings()
    assert settings.chatstream_env == "development"
    assert settings.data_dir == Path("./data")
    assert settings.redis_url is None
    assert settings.llm_model == "local"
    assert settings.local_model_path is None
    assert settings.secret_key == DEVELOPMENT_SECRET_KEY
    assert (settings.access_token_expire_minutes, settings.stream_token_expire_seconds) == (15, 300)
    assert (settings.enable_streaming, settings.streaming_rollout_percent) == (False, 100)
    assert settings.max_message_chars == 8000
    assert (
        settings.stream_ping_interval_s,
        settings.stream_idle_timeout_s,
        settings.stream_disconnect_grace_s,
    ) == (15, 30, 10)
    assert (settings.rate_limit_concurrent_streams, settings.rate_limit_messages_per_hour) == (
        10,
        100,
    )
    assert settings.resolved_log_format == "console"
    assert settings.log_level == "info"
    assert settings.scripted_chunk_delay_s == 0.02
    assert settings.scripted_fail_after is None and settings.scripted_stall_after is None


def test_default_database_is_sqlite_under_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "state"))
    url = _settings().resolved_database_url
    assert url == f"sqlite+aiosqlite:///{(tmp_path / 'state' / 'chatstream.db').resolve()}"


def test_database_url_overrides_the_sqlite_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1/x")
    assert _settings().resolved_database_url == "postgresql+asyncpg://postgres@127.0.0.1/x"


def test_broker_is_derived_from_redis_then_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert _settings().resolved_broker_url == f"sqla+sqlite:///{tmp_path / 'celery-broker.sqlite'}"
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    assert _settings().resolved_broker_url == "redis://cache:6379/0"
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://broker:6379/3")
    assert _settings().resolved_broker_url == "redis://broker:6379/3"


def test_production_refuses_the_development_secret_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHATSTREAM_ENV", "production")
    with pytest.raises(ValidationError) as raised:
        _settings()
    message = str(raised.value)
    assert PRODUCTION_REFUSAL in message
    assert "Set SECRET_KEY" in message


def test_production_refuses_a_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATSTREAM_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "short-but-not-default")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        _settings()


def test_production_accepts_a_long_secret_and_logs_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATSTREAM_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", LONG_SECRET)
    settings = _settings()
    assert settings.chatstream_env == "production"
    assert settings.resolved_log_format == "json"


@pytest.mark.parametrize("env", ["development", "test"])
def test_development_and_test_accept_the_development_secret(
    monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    monkeypatch.setenv("CHATSTREAM_ENV", env)
    assert _settings().secret_key == DEVELOPMENT_SECRET_KEY


def test_unknown_environment_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATSTREAM_ENV", "prod")
    with pytest.raises(ValidationError, match="chatstream_env"):
        _settings()


def test_dotenv_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MAX_MESSAGE_CHARS=1234\nLLM_MODEL=scripted\n")
    settings = Settings()
    assert (settings.max_message_chars, settings.llm_model) == (1234, "scripted")


def test_onboarding_steps_come_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    steps = [{"key": "name", "question": "Your name?"}, {"key": "team", "question": "Team?"}]
    monkeypatch.setenv("ONBOARDING_STEPS", json.dumps(steps))
    assert [(s.key, s.question) for s in _settings().onboarding_steps] == [
        ("name", "Your name?"),
        ("team", "Team?"),
    ]


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        ([], "at least one step"),
        ([{"key": "a", "question": "A?"}, {"key": "a", "question": "B?"}], "unique"),
    ],
)
def test_onboarding_steps_must_be_non_empty_and_unique(
    monkeypatch: pytest.MonkeyPatch, steps: list[dict[str, str]], error: str
) -> None:
    monkeypatch.setenv("ONBOARDING_STEPS", json.dumps(steps))
    with pytest.raises(ValidationError, match=error):
        _settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MAX_MESSAGE_CHARS", "0"), ("STREAMING_ROLLOUT_PERCENT", "101"), ("LLM_MAX_TOKENS", "0")],
)
def test_out_of_range_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.lower()):
        _settings()
