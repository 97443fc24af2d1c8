"""app/core/periodic.py: work every interval, past a failing run, until closed."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from app.core.periodic import PeriodicTask


async def test_it_runs_again_after_a_failure_and_stops_when_closed() -> None:
    runs: list[int] = []

    async def work() -> None:
        runs.append(len(runs))
        if len(runs) == 2:
            raise OSError("the database is away")

    task = PeriodicTask(work, 0.01, name="test-periodic", failure_event="test_work_failed")
    with capture_logs() as logs:
        task.start()
        for _ in range(500):  # up to 5 s on a busy machine
            await asyncio.sleep(0.01)
            if len(runs) >= 4:
                break
        await task.close()
    assert len(runs) >= 4  # the failed second run did not end it
    assert [e["event"] for e in logs] == ["test_work_failed"]
    assert logs[0]["error_type"] == "OSError"
    stopped_at = len(runs)
    await asyncio.sleep(0.05)
    assert len(runs) == stopped_at
