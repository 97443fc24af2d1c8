"""The streaming rollout flag: on or off per user, stable across requests and processes."""

from __future__ import annotations

import hashlib
import uuid

from app.core.config import Settings


def rollout_bucket(user_id: uuid.UUID) -> int:
    """0..99, the same for a user everywhere (a hash, not Python's per-process `hash()`)."""
    digest = hashlib.sha256(b"streaming-rollout:" + user_id.bytes).digest()
    return int.from_bytes(digest[:4], "big") % 100


def streaming_enabled_for(settings: Settings, user_id: uuid.UUID) -> bool:
    if not settings.enable_streaming:
        return False
    percent = settings.streaming_rollout_percent
    # Every bucket is below 100: no hash for each stream opened once the rollout is complete.
    return percent >= 100 or rollout_bucket(user_id) < percent
