"""A final save that fails is handed to Celery, and a real worker process lands the answer.

SQLite: another connection holds the write lock while the stream finishes. PostgreSQL: a
temporary server of the test's own is stopped before the save and started again after it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from app.migrations import upgrade_to_head
from app.worker import celery_app
from tests.conftest import IN_CI, live_server, make_settings
from tests.fixtures_streaming import (
    DbProbe,
    RecordingModel,
    StreamReader,
    new_account,
    stream_params,
    words,
)

pytestmark = pytest.mark.timeout(120)

BACKEND_DIR = Path(__file__).resolve().parents[2]
CHATSTREAM_BIN = BACKEND_DIR / ".venv" / "bin" / "chatstream"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SAVE_DEADLINE_S = 60


def _require(condition: bool, what: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} (required when CI=true)")
    pytest.skip(what)


# A Celery worker process ------------------------------------------------------------------------


class WorkerProcess:
    def __init__(self, data_dir: Path, database_url: str, log_path: Path) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL", "DATA_DIR"}
        }
        env.update(
            DATA_DIR=str(data_dir),
            DATABASE_URL=database_url,
            CHATSTREAM_ENV="test",
            LOG_LEVEL="info",
            LOG_FORMAT="json",
        )
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log = log_path.open("wb")
        # cwd outside the project, so no .env file there can change the settings.
        self.process = subprocess.Popen(
            [str(CHATSTREAM_BIN), "worker"],
            cwd=data_dir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while "ready" not in self.log:
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited early:\n{self.log[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the worker was not ready in {timeout_s} s:\n{self.log}")
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        # Cold shutdown (SIGQUIT): by now the answer is saved and nothing is left to finish.
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


@asynccontextmanager
async def celery_worker(
    data_dir: Path, database_url: str, log_path: Path
) -> AsyncIterator[WorkerProcess]:
    _require(CHATSTREAM_BIN.exists(), f"{CHATSTREAM_BIN} is missing (run `uv sync`)")
    worker = WorkerProcess(data_dir, database_url, log_path)  # it boots while the test streams
    try:
        yield worker
    finally:
        worker.stop()


@contextmanager
def fresh_celery_broker_connections() -> Iterator[None]:
    """The API side's Celery app caches its broker connection pool on first use; each test here
    points it at a broker file of its own, so drop the cache (as Celery itself does after fork).
    """
    celery_app.close()
    celery_app.amqp._producer_pool = None
    try:
        yield
    finally:
        celery_app.close()
        celery_app.amqp._producer_pool = None


# A PostgreSQL server of the test's own -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class TemporaryPostgres:
    def __init__(self) -> None:
        _require(
            (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists(),
            f"PostgreSQL 15 server binaries are not in {PG_BIN}",
        )
        _require(shutil.which("runuser") is not None, "runuser is not installed")
        _require(os.geteuid() == 0, "starting a PostgreSQL server here needs root (runuser)")
        self.root = Path(tempfile.mkdtemp(prefix="chatstream-pg-"))
        shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.port = _free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres(
            PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync"
        )

    def _as_postgres(self, *args: object) -> None:
        command = ["runuser", "-u", "postgres", "--", *map(str, args)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            PG_BIN / "pg_ctl",
            "-D",
            self.data,
            "-o",
            options,
            "-l",
            self.root / "log",
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data)]
            + ["-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.root, ignore_errors=True)


# The tests --------------------------------------------------------------------------------------


async def _stream_until(reader: StreamReader, events: int) -> asyncio.Task[StreamReader]:
    task = asyncio.create_task(reader.run())
    await reader.wait_for_events(events)
    return task


async def _assert_saved_by_worker(worker: WorkerProcess, message_id: str) -> None:
    # The API's own save, abandoned after persist_timeout_s, may still land first once the
    # database is back (an idempotent upsert, like the worker's): wait for the worker's too.
    def saved() -> bool:
        lines = [line for line in worker.log.splitlines() if message_id in line]
        return any("answer_saved_by_worker" in line for line in lines)

    deadline = time.monotonic() + SAVE_DEADLINE_S
    while not saved() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert saved(), worker.log[-3000:]


async def test_sqlite_locked_during_final_save_answer_lands_through_celery_worker(
    tmp_path: Path, sqlite_url: str
) -> None:
    db_path = sqlite_url.split("///", 1)[1]
    settings = make_settings(tmp_path, database_url=sqlite_url, persist_timeout_s=0.5)
    model = RecordingModel.paced(words(20), delay_s=0.03)
    with fresh_celery_broker_connections():
        async with (
            celery_worker(settings.data_dir, sqlite_url, tmp_path / "worker.log") as worker,
            live_server(settings, model) as server,
            DbProbe(sqlite_url) as db,
        ):
            async with server.client() as client:
                account = await new_account(client)
                reader = StreamReader(
                    client, "/api/v1/chat/stream", stream_params(account.access_token)
                )
                reading = await _stream_until(reader, 3)
                lock = sqlite3.connect(db_path, isolation_level=None, timeout=5)
                try:
                    lock.execute("BEGIN EXCLUSIVE")
                    await asyncio.wait_for(reading, 30)
                    while_locked = await db.message(reader.message_id)
                finally:
                    if lock.in_transaction:
                        lock.execute("ROLLBACK")
                    lock.close()
                await worker.wait_ready()
                stored = await db.wait_for_message(
                    reader.message_id, lambda m: m.status == "complete", SAVE_DEADLINE_S
                )
            await _assert_saved_by_worker(worker, reader.message_id)
    assert reader.types[-1] == "complete"
    assert while_locked is not None and while_locked.status == "streaming"  # the save failed
    # The save gave up after persist_timeout_s (0.5 s) plus the hand-off to the broker, well
    # before SQLite's own 5 s busy timeout, which the client used to wait out in full.
    assert reader.events[-1].received_at - reader.events[-2].received_at < 4.5
    assert stored.content == reader.chunk_text == model.full_text
    assert stored.chunk_count == 20
    assert stored.ttft_ms is not None and stored.duration_ms is not None


async def test_postgres_down_during_final_save_answer_lands_through_celery_worker(
    tmp_path: Path,
) -> None:
    postgres = TemporaryPostgres()
    try:
        postgres.start()
        await asyncio.to_thread(upgrade_to_head, postgres.url)
        settings = make_settings(tmp_path, database_url=postgres.url, persist_timeout_s=1.0)
        model = RecordingModel.paced(words(20), delay_s=0.03)
        with fresh_celery_broker_connections():
            async with (
                celery_worker(settings.data_dir, postgres.url, tmp_path / "worker.log") as worker,
                live_server(settings, model) as server,
                DbProbe(postgres.url) as db,
            ):
                async with server.client() as client:
                    account = await new_account(client)
                    reader = StreamReader(
                        client, "/api/v1/chat/stream", stream_params(account.access_token)
                    )
                    reading = await _stream_until(reader, 3)
                    await asyncio.to_thread(postgres.stop)
                    await asyncio.wait_for(reading, 30)
                    await asyncio.to_thread(postgres.start)
                    await worker.wait_ready()
                    stored = await db.wait_for_message(
                        reader.message_id, lambda m: m.status == "complete", SAVE_DEADLINE_S
                    )
                await _assert_saved_by_worker(worker, reader.message_id)
    finally:
        postgres.remove()
    assert reader.types[-1] == "complete"
    assert stored.content == reader.chunk_text == model.full_text
    assert stored.chunk_count == 20
