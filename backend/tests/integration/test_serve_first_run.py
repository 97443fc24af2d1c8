"""`chatstream serve` on a database it cannot use as it is: an embedded SQLite database that was
never migrated (or migrated by an earlier version) is migrated at start, so a newcomer's first
run works; a PostgreSQL database without the current schema is refused, naming the command
that fixes it."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from alembic.script import ScriptDirectory

from alembic import command
from app.migrations import alembic_config, upgrade_to_head
from tests.fixtures.database import scratch_postgres_database, sqlite_file_url
from tests.fixtures.environment import CHATSTREAM_BIN, clean_env, free_port
from tests.fixtures.processes import stop_process
from tests.fixtures.waiting import wait_for_port

START_TIMEOUT_S = 90  # the app imports LangChain: slow on a busy 2-core machine


def _env(data_dir: Path, **settings: str) -> dict[str, str]:
    return clean_env(
        CHATSTREAM_ENV="test", DATA_DIR=str(data_dir), LLM_MODEL="scripted", **settings
    )


@contextmanager
def _serving(data_dir: Path, **settings: str) -> Iterator[tuple[str, Path]]:
    """`chatstream serve` until the block ends: its base URL and the file it logs to."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir.parent / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(CHATSTREAM_BIN), "serve", "--port", str(port)],
            cwd=data_dir,  # no stray .env
            env=_env(data_dir, **settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, process, START_TIMEOUT_S)
            yield f"http://127.0.0.1:{port}", log_path
        finally:
            stop_process(process)


def _refused(data_dir: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(CHATSTREAM_BIN), "serve", "--port", str(free_port())],
        cwd=data_dir,
        env=_env(data_dir, **settings),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )


def _register_works(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert client.get("/readyz").status_code == 200
        registered = client.post(
            "/api/v1/auth/register",
            json={"email": "newcomer@example.com", "password": "long enough pw"},
        )
        assert registered.status_code == 201, registered.text


def _heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def _sqlite_revision(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        [(version,)] = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    return str(version)


def test_a_first_serve_on_a_new_data_dir_migrates_sqlite_and_registers(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"  # nothing there yet, not even the directory
    with _serving(data_dir) as (base_url, log_path):
        _register_works(base_url)
    assert "Migrated" in log_path.read_text()
    assert _sqlite_revision(data_dir / "chatstream.db") in _heads()


def test_serve_brings_an_older_sqlite_schema_up_to_date(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = sqlite_file_url(data_dir / "chatstream.db")
    upgrade_to_head(url)
    command.downgrade(alembic_config(url), "-1")
    older = _sqlite_revision(data_dir / "chatstream.db")
    assert older not in _heads()
    with _serving(data_dir) as (base_url, _):
        _register_works(base_url)
    assert _sqlite_revision(data_dir / "chatstream.db") in _heads()


def test_serve_on_a_migrated_sqlite_database_just_starts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    upgrade_to_head(sqlite_file_url(data_dir / "chatstream.db"))
    with _serving(data_dir) as (base_url, log_path):
        _register_works(base_url)
    assert "Migrated" not in log_path.read_text()


def test_serve_refuses_an_unmigrated_postgresql_database_naming_chatstream_migrate(
    tmp_path: Path,
) -> None:
    with scratch_postgres_database() as url:
        result = _refused(tmp_path / "data", DATABASE_URL=url)
        assert result.returncode == 2, result.stderr
        assert "has no ChatStream schema" in result.stderr
        assert "`chatstream migrate`" in result.stderr
        assert "Traceback" not in result.stderr

        # Migrated by an earlier version: refused too, and the database is left as it was.
        upgrade_to_head(url)
        command.downgrade(alembic_config(url), "-1")
        behind = _refused(tmp_path / "data", DATABASE_URL=url)
        assert behind.returncode == 2, behind.stderr
        assert "older than this version's" in behind.stderr
        assert "`chatstream migrate`" in behind.stderr

        upgrade_to_head(url)
        with _serving(tmp_path / "data", DATABASE_URL=url) as (base_url, _):
            _register_works(base_url)
