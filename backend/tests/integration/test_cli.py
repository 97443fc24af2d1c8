"""The `chatstream` command, run as a user runs it: a subprocess with its own environment."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.database import APP_TABLES
from tests.fixtures.environment import CHATSTREAM_BIN, clean_env, free_port

PRODUCTION_REFUSAL = "SECRET_KEY is the built-in development secret; production refuses it"


def chatstream(
    *args: str, cwd: Path, timeout_s: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHATSTREAM_BIN), *args],
        cwd=cwd,  # no stray .env: Settings read ./.env
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def test_help_lists_serve_worker_and_migrate(tmp_path: Path) -> None:
    result = chatstream("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("serve", "worker", "migrate"):
        assert command in result.stdout


def test_migrate_creates_the_sqlite_database_in_a_fresh_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    result = chatstream("migrate", cwd=tmp_path, DATA_DIR=str(data_dir))
    assert result.returncode == 0, result.stderr
    assert "Database is up to date." in result.stdout
    database = data_dir / "chatstream.db"
    assert database.is_file()
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        [(version,)] = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    assert APP_TABLES <= tables
    assert version


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_production_refuses_the_development_secret(tmp_path: Path, command: str) -> None:
    args = [command] if command == "migrate" else [command, "--port", str(free_port())]
    result = chatstream(
        *args, cwd=tmp_path, timeout_s=30, CHATSTREAM_ENV="production", DATA_DIR=str(tmp_path)
    )
    assert result.returncode != 0
    assert PRODUCTION_REFUSAL in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "chatstream.db").exists()


def test_production_with_a_real_secret_migrates(tmp_path: Path) -> None:
    result = chatstream(
        "migrate",
        cwd=tmp_path,
        CHATSTREAM_ENV="production",
        SECRET_KEY="s" * 48,
        DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "chatstream.db").is_file()
