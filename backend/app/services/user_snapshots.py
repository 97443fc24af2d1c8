"""Recently authenticated users, kept a short while so a request needs no database round trip.

Every API call and every stream open authenticates, and a user row never changes after
registration (there is no rename or deletion), so a snapshot read a minute ago is the row.
The time bound keeps that true should accounts ever become editable: a change shows within
SNAPSHOT_TTL_S in every process.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict

from app.schemas.auth import AuthUser

SNAPSHOT_TTL_S = 60.0
MAX_SNAPSHOTS = 10_000


class UserSnapshots:
    def __init__(self, ttl_s: float = SNAPSHOT_TTL_S, max_entries: int = MAX_SNAPSHOTS) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[uuid.UUID, tuple[float, AuthUser]] = OrderedDict()

    def get(self, user_id: uuid.UUID) -> AuthUser | None:
        entry = self._entries.get(user_id)
        if entry is None:
            return None
        expires_at, user = entry
        if time.monotonic() >= expires_at:
            del self._entries[user_id]
            return None
        return user

    def put(self, user: AuthUser) -> None:
        self._entries[user.id] = (time.monotonic() + self._ttl_s, user)
        self._entries.move_to_end(user.id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
