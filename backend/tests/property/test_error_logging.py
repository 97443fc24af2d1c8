"""Property: a failure injected at any stage of a stream is logged exactly once, with its type
and its context (user_id, message_id), and the stream's lease is given back.

Driven in process: the app's database and rate limiter, a fresh Orchestrator and
StreamManager per example (so timeouts can differ), the scripted model told where to fail or
stall, and readers attached and detached the way an SSE response does. The final save is made
to fail by handing the Orchestrator a database that refuses to update messages (the rest of the
save path, including the hand-off to Celery on its SQLite broker, is real).
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.config import Settings
from app.db.crud.users import get_user
from app.db.session import Database
from app.llm.factory import ChatModelProvider
from app.llm.scripted import ScriptedChatModel
from app.orchestration.orchestrator import Orchestrator, Send
from app.schemas.auth import AuthUser
from app.services.rate_limits import RateLimiter
from app.streaming.generation import Generation
from app.streaming.manager import StreamManager
from tests.fixtures.accounts import new_client_id, register
from tests.fixtures.database import FailingAnswerSaves
from tests.fixtures.observability import LogCapture, capture_logs
from tests.fixtures.server import make_settings, running_app

pytestmark = pytest.mark.timeout(300)

ENDINGS = (
    "complete",
    "fail_before_first_chunk",
    "fail_mid_stream",
    "stall_timeout",
    "client_cancel",
    "readers_disconnect",
)
CLEANUP_REASON = {
    "complete": "complete",
    "fail_before_first_chunk": "error",
    "fail_mid_stream": "error",
    "stall_timeout": "timeout",
    "client_cancel": "cancelled",
    "readers_disconnect": "disconnected",
}
IDLE_TIMEOUT_S = 0.1
GRACE_S = 0.02


@dataclass
class Harness:
    runner: asyncio.Runner
    settings: Settings
    db: Database
    saves: FailingAnswerSaves  # the app's database, as the Orchestrator of each example sees it
    limiter: RateLimiter
    user: AuthUser


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Harness]:
    directory = tmp_path_factory.mktemp("error-logging")
    shutil.copy(sqlite_template, directory / "chatstream.db")
    config = make_settings(
        directory,
        database_url=f"sqlite+aiosqlite:///{directory / 'chatstream.db'}",
        log_format="json",
        log_level="info",
        rate_limit_messages_per_hour=100_000,
        rate_limit_concurrent_streams=5,
    )
    runner = asyncio.Runner()
    stack = AsyncExitStack()
    try:
        h = runner.run(stack.enter_async_context(running_app(config)))
        user = runner.run(_new_user(h.client, h.db))
        saves = FailingAnswerSaves(h.db, error="database is locked")  # the app disposes h.db
        yield Harness(runner, config, h.db, saves, h.app.state.limiter, user)
    finally:
        runner.run(stack.aclose())
        runner.close()


async def _new_user(client: httpx.AsyncClient, db: Database) -> AuthUser:
    account = await register(client)
    user = await db.run(lambda session: get_user(session, uuid.UUID(account["id"])))
    return AuthUser.model_validate(user)


@dataclass(frozen=True)
class Case:
    ending: str
    chunks: int
    at: int  # the chunk index where the failure, stall, cancel or disconnect happens
    save_fails: bool


@st.composite
def cases(draw: st.DrawFn) -> Case:
    ending = draw(st.sampled_from(ENDINGS))
    chunks = draw(st.integers(1, 6))
    if ending == "fail_before_first_chunk":
        at = 0
    elif ending == "fail_mid_stream":
        at = draw(st.integers(1, chunks))  # `chunks` itself: after the last chunk
    else:
        at = draw(st.integers(0, chunks - 1))
    return Case(ending, chunks, at, draw(st.booleans()))


def _model(case: Case) -> ScriptedChatModel:
    text = " ".join(f"w{i}" for i in range(case.chunks))
    if case.ending.startswith("fail"):
        return ScriptedChatModel.from_text(text, delay_s=0, fail_after=case.at)
    if case.ending == "complete":
        return ScriptedChatModel.from_text(text, delay_s=0)
    return ScriptedChatModel.from_text(text, delay_s=0, stall_after=case.at)


async def _wait_for_chunks(generation: Generation, count: int) -> None:
    async with asyncio.timeout(5):
        while generation.buffer.next_seq < count + 1:  # the start event, then `count` chunks
            await asyncio.sleep(0.001)


async def _play(h: Harness, case: Case, request_id: str) -> uuid.UUID:
    """One stream request, as the SSE endpoint runs it; returns the answer's id."""
    config = h.settings.model_copy(
        update={
            "stream_idle_timeout_s": IDLE_TIMEOUT_S if case.ending == "stall_timeout" else 30.0,
            "stream_disconnect_grace_s": GRACE_S,
        }
    )
    streams = StreamManager(
        idle_timeout_s=config.stream_idle_timeout_s,
        disconnect_grace_s=config.stream_disconnect_grace_s,
        buffer_ttl_s=0,
    )
    orchestrator = Orchestrator(
        db=h.saves,
        models=ChatModelProvider(config, _model(case)),
        streams=streams,
        settings=config,
        limiter=h.limiter,
    )

    async def request() -> uuid.UUID:
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            turn = await orchestrator.send_chat(h.user, Send("Hello", new_client_id()))
            handle = await orchestrator.stream(turn)
            assert handle is not None and handle.generation is not None
            generation = handle.generation
            generation.attach()  # the SSE response reading it
            attached = True
            try:
                if case.ending == "client_cancel":
                    await _wait_for_chunks(generation, case.at)
                    await orchestrator.cancel(h.user, generation.message_id)
                elif case.ending == "readers_disconnect":
                    await _wait_for_chunks(generation, case.at)
                    generation.detach()  # the connection dropped; nobody comes back
                    attached = False
                async with asyncio.timeout(10):
                    await generation.wait()
            finally:
                if attached:
                    generation.detach()
            return generation.message_id

    return await asyncio.create_task(request())


def _check(logs: LogCapture, h: Harness, case: Case, message_id: uuid.UUID, rid: str) -> None:
    records = [r for r in logs.records() if r.get("message_id") == str(message_id)]
    names = [r["event"] for r in records]

    def once(event: str) -> dict[str, Any]:
        found = [r for r in records if r["event"] == event]
        assert len(found) == 1, (event, names)
        record = found[0]
        assert record.get("user_id") == str(h.user.id), record
        return record

    started = once("stream_started")
    assert started["request_id"] == rid
    completed = once("stream_completed")
    assert once("stream_cleanup")["reason"] == CLEANUP_REASON[case.ending]

    expected_problems: dict[str, str | None] = {}  # event -> error_type
    if case.ending.startswith("fail"):
        expected_problems["llm_error"] = "ScriptedModelFailure"
    elif case.ending == "stall_timeout":
        expected_problems["stream_idle_timeout"] = "TimeoutError"
    elif case.ending == "readers_disconnect":
        once("stream_abandoned")
    if case.save_fails:
        expected_problems["answer_save_failed"] = "OperationalError"
        once("answer_save_queued")
        assert completed["save"] == "queued"
    else:
        assert completed["save"] == "saved"
    for event, error_type in expected_problems.items():
        record = once(event)
        assert record["error_type"] == error_type, record
        assert record["level"] in {"warning", "error"}, record
    problems = sorted(r["event"] for r in records if r["level"] in {"warning", "error"})
    assert problems == sorted(expected_problems), names


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=cases())
def test_each_injected_failure_is_logged_once_with_its_type_and_context(
    harness: Harness, case: Case
) -> None:
    harness.saves.failing = case.save_fails
    request_id = uuid.uuid4().hex
    with capture_logs() as logs:
        message_id = harness.runner.run(_play(harness, case, request_id))
    _check(logs, harness, case, message_id, request_id)
    in_use = harness.runner.run(harness.limiter.slots.in_use(harness.user.id))
    assert in_use == 0, f"the stream's lease was not released after {case.ending}"
