"""The chaos scenario: N concurrent paced answers through nginx while one API process is killed
(and restarted), PostgreSQL is stopped and started, and Redis is restarted; then every
invariant is checked and the result printed as a table."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from app.core.task_queue import UNACKED_SAVE_TIMEOUT_S
from tests.chaos.client import AnswerRun, StreamClient
from tests.chaos.invariants import (
    Check,
    Evidence,
    StoredMessage,
    answers,
    check_all,
    stored_messages,
    table,
)
from tests.chaos.topology import OWNER_LEASE_S, Pace, Topology, running_topology
from tests.fixtures.accounts import Account, new_account

SENDS_PER_SECOND = 100  # how fast the answers start, at first
FRAMES_PER_SECOND = 1500  # across all answers: what a 2-core machine carries with room to spare
ANSWERS_PER_USER = 15
FAULTS = ("kill", "postgres", "redis")


@dataclass(frozen=True)
class ChaosPlan:
    """When each fault strikes, in seconds from the first send; each lands on other answers."""

    answers: int
    pace: Pace
    ramp_s: float
    kill_at_s: float
    postgres_at_s: float
    postgres_outage_s: float
    redis_at_s: float
    load_s: float  # no new send after this
    answer_deadline_s: float
    recovery_timeout_s: float
    faults: tuple[str, ...] = FAULTS  # a subset, to tell which fault a violation needs

    @classmethod
    def of_size(cls, answers: int, faults: tuple[str, ...] = FAULTS) -> ChaosPlan:
        pace = Pace(chunks=40, chunk_delay_s=round(max(0.2, answers / FRAMES_PER_SECOND), 2))
        answer_s = pace.chunks * pace.chunk_delay_s
        ramp_s = answers / SENDS_PER_SECOND
        gap_s = max(8.0, answer_s)  # the answers a fault struck have ended before the next
        kill_at_s = ramp_s + 2.0
        return cls(
            answers=answers,
            pace=pace,
            ramp_s=ramp_s,
            kill_at_s=kill_at_s,
            postgres_at_s=kill_at_s + gap_s,
            postgres_outage_s=2.0,
            redis_at_s=kill_at_s + 2 * gap_s,
            load_s=kill_at_s + 3 * gap_s,
            answer_deadline_s=answer_s + 40.0,
            # A dead writer's lease, then the worker's retries (backoff up to 30 s); or, if the
            # worker lost its broker holding saves and exited, their return to the queue.
            recovery_timeout_s=OWNER_LEASE_S + 30.0 + UNACKED_SAVE_TIMEOUT_S,
            faults=faults,
        )


@dataclass
class Fault:
    name: str
    at_s: float
    took_s: float = 0.0

    def __str__(self) -> str:
        return f"{self.name} at t={self.at_s:.1f}s (took {self.took_s:.1f}s)"


@dataclass
class ChaosReport:
    plan: ChaosPlan
    checks: list[Check]
    runs: list[AnswerRun]
    statuses: Counter[str]
    faults: list[Fault]
    t0: datetime  # t=0 of the faults and the clients' stories, on the logs' clock (UTC)
    timings: dict[str, float] = field(default_factory=dict)
    directory: Path | None = None
    worker_restarts: int = 0

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def render(self) -> str:
        connections = sum(len(run.connections) for run in self.runs)
        pace = self.plan.pace
        lines = [
            f"chaos: {self.plan.answers} concurrent answers of {pace.chunks} chunks "
            f"{pace.chunk_delay_s} s apart; {len(self.runs)} sends, {connections} connections "
            f"({connections - len(self.runs)} reconnects)",
            f"faults (t=0 at {self.t0:%H:%M:%S.%f} UTC): " + "; ".join(map(str, self.faults)),
            "stored: " + ", ".join(f"{n} {status}" for status, n in self.statuses.most_common()),
            "timings: " + ", ".join(f"{name} {s:.1f} s" for name, s in self.timings.items()),
            f"the Celery worker exited and was restarted {self.worker_restarts} times",
            "",
            table(self.checks),
        ]
        for check in self.checks:
            if check.violations:
                lines += ["", f"{check.name}: {len(check.violations)} violations"]
                lines += check.violations[:20]
                if len(check.violations) > 20:
                    lines.append(f"... and {len(check.violations) - 20} more")
        if self.directory is not None:
            lines += ["", f"logs: {self.directory}"]
        return "\n".join(lines)


async def run_chaos(
    answers_at_once: int, directory: Path, faults: tuple[str, ...] = FAULTS
) -> ChaosReport:
    plan = ChaosPlan.of_size(answers_at_once, faults)
    timings: dict[str, float] = {}
    started = time.monotonic()
    async with running_topology(directory, plan.pace, answers_at_once) as topology:
        timings["start-up"] = time.monotonic() - started
        base_url = f"http://127.0.0.1:{topology.nginx.port}"
        accounts, stream_tokens = await _users(base_url, plan.answers)
        timings["accounts"] = time.monotonic() - started - timings["start-up"]
        names = {f"127.0.0.1:{api.port}": api.name for api in topology.apis}
        client = StreamClient(topology.nginx.port, plan.answer_deadline_s, names)
        t0 = time.monotonic()
        t0_utc = datetime.now(UTC)
        runs, struck = await _load(topology, plan, client, accounts, stream_tokens)
        timings["load and drain"] = time.monotonic() - t0
        user_ids = [account.id for account in accounts]
        recovered_at = time.monotonic()
        messages = await _settled_messages(topology, user_ids, plan.recovery_timeout_s)
        timings["recovery"] = time.monotonic() - recovered_at
        for process in (*topology.apis, topology.nginx):  # their logs complete
            await asyncio.to_thread(process.stop)
        tokens = [account.access_token for account in accounts] + stream_tokens
        timeline = "; ".join(map(str, struck))
        evidence = Evidence(t0, timeline, {api.name: api.log_path for api in topology.apis})
        checks = check_all(
            runs,
            messages,
            client.server_errors,
            sum(len(run.connections) for run in runs),
            topology.logs(),
            tokens,
            evidence,
        )
        worker_restarts = topology.worker.restarts
    timings["total"] = time.monotonic() - started
    statuses = Counter(answer.status for answer in answers(messages))
    return ChaosReport(
        plan, checks, runs, statuses, struck, t0_utc, timings, directory, worker_restarts
    )


async def _users(base_url: str, answers_at_once: int) -> tuple[list[Account], list[str]]:
    """Accounts (a few answers at once each) and a stream token for each concurrent answer,
    all made before any fault: no POST is in flight when a process dies."""
    count = -(-answers_at_once // ANSWERS_PER_USER)
    limits = httpx.Limits(max_connections=8)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        hashing = asyncio.Semaphore(4)  # argon2: as many at once as the machine has room for

        async def account() -> Account:
            async with hashing:
                return await new_account(client)

        accounts = await asyncio.gather(*(account() for _ in range(count)))

        async def stream_token(account: Account) -> str:
            response = await client.post("/api/v1/chat/stream-token", headers=account.auth)
            response.raise_for_status()
            token: str = response.json()["token"]
            return token

        tokens = await asyncio.gather(
            *(stream_token(accounts[i % count]) for i in range(answers_at_once))
        )
    return list(accounts), list(tokens)


async def _load(
    topology: Topology,
    plan: ChaosPlan,
    client: StreamClient,
    accounts: list[Account],
    stream_tokens: list[str],
) -> tuple[list[AnswerRun], list[Fault]]:
    """Every slot sends one answer after another until `load_s`; the faults strike meanwhile."""
    t0 = time.monotonic()
    runs: list[AnswerRun] = []
    faults: list[Fault] = []

    async def slot(index: int) -> None:
        await asyncio.sleep(index * plan.ramp_s / plan.answers)
        account = accounts[index % len(accounts)]
        sent = 0
        while time.monotonic() - t0 < plan.load_s:
            run = AnswerRun(f"chaos-{index}-{sent}", account.id, time.monotonic())
            runs.append(run)
            await client.follow(run, f"Question {sent} of slot {index}", stream_tokens[index])
            sent += 1

    async def at(when_s: float, name: str, fault: Callable[[], Awaitable[object]]) -> None:
        await asyncio.sleep(max(0.0, t0 + when_s - time.monotonic()))
        record = Fault(name, time.monotonic() - t0)
        faults.append(record)
        await fault()
        record.took_s = time.monotonic() - t0 - record.at_s

    victim = topology.apis[0]
    strikes = {
        "kill": at(
            plan.kill_at_s,
            f"SIGKILL {victim.name}, restart",
            lambda: topology.kill_and_restart_api(victim),
        ),
        "postgres": at(
            plan.postgres_at_s,
            f"PostgreSQL down {plan.postgres_outage_s:.0f} s",
            lambda: topology.stop_and_start_postgres(plan.postgres_outage_s),
        ),
        "redis": at(plan.redis_at_s, "Redis restart", topology.restart_redis),
    }
    for name, strike in strikes.items():
        if name not in plan.faults:
            strike.close()  # never awaited: not this run's
    await asyncio.gather(
        *(slot(index) for index in range(plan.answers)),
        *(strike for name, strike in strikes.items() if name in plan.faults),
    )
    return runs, faults


async def _settled_messages(
    topology: Topology, user_ids: list[str], timeout_s: float
) -> list[StoredMessage]:
    """The users' messages once no answer is `streaming` any more (or after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while True:
        messages = await stored_messages(topology.database_url, user_ids)
        if all(m.status != "streaming" for m in answers(messages)) or time.monotonic() > deadline:
            return messages
        await asyncio.sleep(0.5)
