"""The in-process hourly message window: a moving hour per user, on a clock the test moves."""

from __future__ import annotations

import uuid

from app.services.rate_limits import HOUR_S, SWEEP_EVERY_S, MemoryHourlyWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_admits_up_to_the_limit_then_refuses_without_counting() -> None:
    clock = Clock()
    window = MemoryHourlyWindow(3, clock)
    user = uuid.uuid4()
    for _ in range(3):
        assert await window.test(user)
        assert await window.hit(user)
        clock.now += 1
    assert not await window.test(user)
    assert not await window.hit(user)
    assert not await window.hit(user)  # refusals are not counted: still the same three
    clock.now = 1000.0 + HOUR_S + 0.5  # the first hit has left the window, the others not
    assert await window.hit(user)
    assert not await window.hit(user)


async def test_users_are_counted_apart() -> None:
    window = MemoryHourlyWindow(1, Clock())
    first, second = uuid.uuid4(), uuid.uuid4()
    assert await window.hit(first)
    assert not await window.test(first)
    assert await window.test(second)
    assert await window.hit(second)


async def test_retry_after_is_when_the_oldest_counted_hit_leaves_the_window() -> None:
    clock = Clock()
    window = MemoryHourlyWindow(2, clock)
    user = uuid.uuid4()
    assert await window.hit(user)
    clock.now += 600
    assert await window.hit(user)
    clock.now += 600
    assert await window.retry_after_s(user) == HOUR_S - 1200
    clock.now += HOUR_S - 1200 - 0.25
    assert await window.retry_after_s(user) == 1  # rounded up, never 0
    clock.now += 0.5
    assert await window.test(user)
    assert await window.retry_after_s(user) == 1


async def test_a_limit_lowered_below_past_hits_waits_for_enough_of_them_to_leave() -> None:
    clock = Clock()
    window = MemoryHourlyWindow(3, clock)
    user = uuid.uuid4()
    for _ in range(3):
        assert await window.hit(user)
        clock.now += 100
    window.limit = 2
    # Hits at 1000, 1100 and 1200 with a limit of two: a message is admitted once two have left.
    assert await window.retry_after_s(user) == int(1100 + HOUR_S - clock.now)
    window.limit = 1
    assert await window.retry_after_s(user) == int(1200 + HOUR_S - clock.now)


async def test_users_whose_hits_all_expired_are_forgotten() -> None:
    clock = Clock()
    window = MemoryHourlyWindow(5, clock)
    gone = [uuid.uuid4() for _ in range(50)]
    for user in gone:
        assert await window.hit(user)
    clock.now += HOUR_S + SWEEP_EVERY_S
    active = uuid.uuid4()
    assert await window.hit(active)  # a hit sweeps, at most every SWEEP_EVERY_S
    assert set(window._hits) == {active}
    # A quiet user looked up by `test` is not kept either.
    assert await window.test(uuid.uuid4())
    assert set(window._hits) == {active}
