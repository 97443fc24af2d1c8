"""app/services/user_snapshots: a bounded, time-limited cache of authenticated users."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest

from app.schemas.auth import AuthUser
from app.services.user_snapshots import UserSnapshots


def _user(name: str) -> AuthUser:
    return AuthUser(
        id=uuid.uuid4(),
        email=f"{name}@example.com",
        display_name=name,
        created_at=datetime.now(UTC),
    )


def test_a_snapshot_is_served_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    # UserSnapshots reads time.monotonic() and takes no clock: a fake clock is the only way to
    # cross its 60 s expiry without waiting for it.
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    snapshots = UserSnapshots(ttl_s=60)
    ada = _user("ada")
    assert snapshots.get(ada.id) is None
    snapshots.put(ada)
    now[0] += 59.9
    assert snapshots.get(ada.id) == ada
    now[0] += 0.2
    assert snapshots.get(ada.id) is None  # expired: the next request reads the database


def test_the_least_recently_stored_snapshot_is_dropped_first() -> None:
    snapshots = UserSnapshots(max_entries=2)
    ada, bob, cy = _user("ada"), _user("bob"), _user("cy")
    snapshots.put(ada)
    snapshots.put(bob)
    snapshots.put(ada)  # refreshed: bob is now the oldest
    snapshots.put(cy)
    assert snapshots.get(bob.id) is None
    assert snapshots.get(ada.id) == ada and snapshots.get(cy.id) == cy
