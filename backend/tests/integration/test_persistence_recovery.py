"""A final save that fails is handed to Celery, and a real worker process lands the answer.

SQLite: another connection holds the write lock while the stream finishes. PostgreSQL: a
temporary server of the test's own is stopped before the save and started again after it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from app.migrations import upgrade_to_head
from tests.fixtures.accounts import new_account
from tests.fixtures.database import DbProbe, TemporaryPostgres
from tests.fixtures.models import recording_model, words
from tests.fixtures.processes import WorkerProcess, celery_worker, fresh_celery_broker_connections
from tests.fixtures.server import live_server, make_settings
from tests.fixtures.streams import start_stream, stream_params

pytestmark = pytest.mark.timeout(120)

SAVE_DEADLINE_S = 60


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
    model = recording_model(words(20), delay_s=0.03)
    with fresh_celery_broker_connections():
        async with (
            celery_worker(settings.data_dir, sqlite_url, tmp_path / "worker.log") as worker,
            live_server(settings, model) as server,
            DbProbe(sqlite_url) as db,
        ):
            async with server.client() as client:
                account = await new_account(client)
                reader, reading = start_stream(client, stream_params(account.access_token))
                await reader.wait_for_events(3)
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
        model = recording_model(words(20), delay_s=0.03)
        with fresh_celery_broker_connections():
            async with (
                celery_worker(settings.data_dir, postgres.url, tmp_path / "worker.log") as worker,
                live_server(settings, model) as server,
                DbProbe(postgres.url) as db,
            ):
                async with server.client() as client:
                    account = await new_account(client)
                    reader, reading = start_stream(client, stream_params(account.access_token))
                    await reader.wait_for_events(3)
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
