"""What the front end needs to know, decided per user on the server (the streaming rollout)."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentUser, SettingsDep
from app.rollout import streaming_enabled_for
from app.schemas.onboarding import ClientConfig

router = APIRouter(prefix="/config", tags=["config"])


@router.get("")
async def read_config(user: CurrentUser, settings: SettingsDep) -> ClientConfig:
    return ClientConfig(
        streaming_enabled=streaming_enabled_for(settings, user.id),
        max_message_chars=settings.max_message_chars,
        stream_token_expire_seconds=settings.stream_token_expire_seconds,
        stream_ping_interval_s=settings.stream_ping_interval_s,
    )
