"""The chaos suite's short variant, in `make test`: 300 concurrent answers through nginx while
an API process is killed, PostgreSQL stopped and Redis restarted (`make chaos` runs 1,000)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.scenario import run_chaos
from tests.chaos.topology import preflight
from tests.fixtures.environment import require

pytestmark = pytest.mark.timeout(300)


async def test_no_answer_is_lost_or_garbled_when_a_process_postgres_and_redis_fail(
    tmp_path: Path,
) -> None:
    problems = preflight()
    require(not problems, "; ".join(problems))
    report = await run_chaos(300, tmp_path)
    print(report.render())  # noqa: T201  (the table and each violation's story: captured stdout)
    violated = [f"{check.name}: {len(check.violations)}" for check in report.checks if not check.ok]
    assert not violated, "violated (the table and the stories are in the output above):\n" + (
        "\n".join(violated)
    )
