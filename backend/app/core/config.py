"""Settings: every environment variable ChatStream reads, in one object, read once."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Accepted only in development: production refuses to start with it.
DEVELOPMENT_SECRET_KEY = "chatstream-development-secret-change-me"  # noqa: S105


class OnboardingStep(BaseModel):
    """One thing the onboarding conversation learns about a new user."""

    key: str = Field(min_length=1, max_length=40)
    question: str = Field(min_length=1, max_length=500)


DEFAULT_ONBOARDING_STEPS: tuple[OnboardingStep, ...] = (
    OnboardingStep(key="name", question="What should I call you?"),
    OnboardingStep(key="role", question="What do you do, for work or study?"),
    OnboardingStep(key="goals", question="What would you like me to help you with?"),
    OnboardingStep(
        key="style",
        question="How should I answer: short and direct, or detailed with examples?",
    ),
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    chatstream_env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("./data")
    database_url: str | None = None
    redis_url: str | None = None
    celery_broker_url: str | None = None

    # Language model
    llm_model: str = "local"
    local_model_path: Path | None = None
    local_model_threads: int | None = Field(default=None, ge=1, le=256)
    llm_max_tokens: int = Field(default=512, ge=1, le=32768)
    llm_temperature: float = Field(default=0.3, ge=0.0, le=2.0)
    llm_context_tokens: int = Field(default=2048, ge=256)
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    anthropic_api_key: str | None = None
    ollama_base_url: str | None = None
    chat_history_char_budget: int = Field(default=4000, ge=0)

    # Scripted model (tests and benchmarks)
    scripted_text: str | None = None
    scripted_chunk_delay_s: float = Field(default=0.02, ge=0.0)
    scripted_fail_after: int | None = Field(default=None, ge=0)
    scripted_fail_times: int | None = Field(default=None, ge=0)
    scripted_stall_after: int | None = Field(default=None, ge=0)
    scripted_chunks: int | None = Field(default=None, ge=1)
    # A test tool: the scripted model answers with the system prompt it was given.
    scripted_echo_prompt: bool = False
    # A test tool: the scripted model writes one answer at a time and the others wait their turn
    # in line, as the local model's do (their streams hear their places).
    scripted_one_at_a_time: bool = False

    # Tokens
    secret_key: str = DEVELOPMENT_SECRET_KEY
    # Short on purpose: a session lasts through refresh tokens, and an access token cannot be
    # revoked. Fractions are allowed (0.05 = 3 s), so a test can watch one expire.
    access_token_expire_minutes: float = Field(default=15, gt=0)
    stream_token_expire_seconds: int = Field(default=300, ge=1)
    # A refresh token (the HttpOnly cookie) expires this long after it was issued; each refresh
    # issues a new one, so an active session never ends on its own.
    refresh_token_expire_days: float = Field(default=14, gt=0)
    # A just-spent refresh token is still accepted this long (another tab refreshing with the
    # same cookie, or an answer lost on the way): later, its use is taken for theft.
    refresh_token_reuse_grace_s: float = Field(default=10, ge=0, le=300)
    # Off only for a plain-http deployment reached by a name other than localhost (no HTTPS).
    refresh_cookie_secure: bool = True

    # Streaming
    enable_streaming: bool = False
    streaming_rollout_percent: int = Field(default=100, ge=0, le=100)
    max_message_chars: int = Field(default=8000, ge=1)
    stream_ping_interval_s: float = Field(default=15.0, gt=0)
    stream_idle_timeout_s: float = Field(default=30.0, gt=0)
    stream_disconnect_grace_s: float = Field(default=10.0, ge=0)
    stream_buffer_ttl_s: float = Field(default=300.0, ge=0)
    stream_retry_ms: int = Field(default=3000, ge=0)
    # Scaled mode: a process that stops renewing its lease this long is taken for dead.
    stream_owner_lease_s: float = Field(default=5.0, ge=0.5, le=300)
    # Embedded mode: how often partial answers are written to the database.
    stream_checkpoint_s: float = Field(default=2.0, gt=0)
    persist_timeout_s: float = Field(default=3.0, gt=0)

    # Rate limits
    rate_limit_concurrent_streams: int = Field(default=10, ge=1)
    rate_limit_messages_per_hour: int = Field(default=100, ge=1)

    # Metrics: a port of their own keeps /metrics off the public one.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # What the API port shows besides the API; unset: everything but in production.
    expose_api_docs: bool | None = None
    expose_metrics: bool | None = None

    # Logging
    log_format: Literal["console", "json"] | None = None
    log_level: str = "info"

    # The built front end served at /; unset means ../frontend/dist beside the back end.
    frontend_dist_dir: Path | None = None

    onboarding_steps: Annotated[tuple[OnboardingStep, ...], NoDecode] = DEFAULT_ONBOARDING_STEPS

    @field_validator("onboarding_steps", mode="before")
    @classmethod
    def _parse_steps(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value)
        return value

    @field_validator("onboarding_steps")
    @classmethod
    def _steps_not_empty(cls, value: tuple[OnboardingStep, ...]) -> tuple[OnboardingStep, ...]:
        if not value:
            raise ValueError("ONBOARDING_STEPS needs at least one step")
        if len({step.key for step in value}) != len(value):
            raise ValueError("ONBOARDING_STEPS keys must be unique")
        return value

    @model_validator(mode="after")
    def _refuse_development_secret_in_production(self) -> Settings:
        if self.chatstream_env == "production" and self.secret_key == DEVELOPMENT_SECRET_KEY:
            raise ValueError(
                "SECRET_KEY is the built-in development secret; production refuses it. "
                "Set SECRET_KEY to a long random value, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        if self.chatstream_env == "production" and len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters in production.")
        return self

    @property
    def access_token_ttl_s(self) -> int:
        return max(1, round(self.access_token_expire_minutes * 60))

    @property
    def refresh_token_ttl_s(self) -> int:
        return max(1, round(self.refresh_token_expire_days * 86400))

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'chatstream.db').resolve()}"

    @property
    def resolved_broker_url(self) -> str:
        if self.celery_broker_url:
            return self.celery_broker_url
        if self.redis_url:
            return self.redis_url
        return f"sqla+sqlite:///{(self.data_dir / 'celery-broker.sqlite').resolve()}"

    @property
    def api_docs_exposed(self) -> bool:
        """Whether /docs, /redoc and /openapi.json are served (not in production, unless set)."""
        if self.expose_api_docs is not None:
            return self.expose_api_docs
        return self.chatstream_env != "production"

    @property
    def metrics_on_api_port(self) -> bool:
        """Whether /metrics is served on the API port: never with METRICS_PORT (it is served
        there), and not in production unless EXPOSE_METRICS says so."""
        if self.metrics_port is not None:
            return False
        if self.expose_metrics is not None:
            return self.expose_metrics
        return self.chatstream_env != "production"

    @property
    def resolved_log_format(self) -> Literal["console", "json"]:
        if self.log_format:
            return self.log_format
        return "json" if self.chatstream_env == "production" else "console"


@lru_cache
def get_settings() -> Settings:
    return Settings()
