"""Response bodies for onboarding state and client configuration."""

from __future__ import annotations

import uuid

from pydantic import BaseModel


class OnboardingStepRead(BaseModel):
    key: str
    question: str


class OnboardingRead(BaseModel):
    steps: list[OnboardingStepRead]
    current_step: int
    progress: float
    completed: bool
    conversation_id: uuid.UUID | None


class ClientConfig(BaseModel):
    streaming_enabled: bool
    max_message_chars: int
    stream_token_expire_seconds: int
    stream_ping_interval_s: float
