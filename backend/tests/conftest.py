"""Shared fixtures: settings, a database on SQLite and PostgreSQL, the app, a real server."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from langchain_core.language_models import BaseChatModel
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from app.core.config import Settings
from app.db.session import Database, create_engine
from app.llm.scripted import ScriptedChatModel
from app.main import create_app
from app.migrations import upgrade_to_head

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
TABLES = ("messages", "onboarding_states", "conversations", "users")


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "chatstream_env": "test",
        "data_dir": tmp_path / "data",
        "llm_model": "scripted",
        "enable_streaming": True,
        "scripted_chunk_delay_s": 0.0,
        "log_level": "warning",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# Databases -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


async def _postgres_reachable() -> bool:
    engine = create_engine(POSTGRES_ADMIN_URL, poolclass=NullPool)
    try:
        async with asyncio.timeout(3):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


async def _admin(sql: str) -> None:
    engine = create_engine(POSTGRES_ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own for this test run, migrated once, dropped at the end."""
    if not asyncio.run(_postgres_reachable()):
        message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL.split('@')[-1]}"
        if IN_CI:
            pytest.fail(message + " (required when CI=true)")
        pytest.skip(message)
    name = f"chatstream_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade_to_head(url)
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """Each DB-backed test runs twice: on a fresh SQLite file, and on a clean PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "chatstream.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_database")
    asyncio.run(_admin_truncate(url))
    yield url


async def _admin_truncate(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only, for tests about the embedded mode itself."""
    path = tmp_path / "chatstream.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


# The app -------------------------------------------------------------------------------------


def scripted_model(
    text: str | None = None, *, delay_s: float = 0.0, **kwargs: Any
) -> ScriptedChatModel:
    return ScriptedChatModel.from_text(text, delay_s=delay_s, **kwargs)


@dataclass
class AppHarness:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    @property
    def db(self) -> Database:
        database: Database = self.app.state.db
        return database


@asynccontextmanager
async def running_app(
    settings: Settings, chat_model: BaseChatModel | None = None
) -> AsyncIterator[AppHarness]:
    app = create_app(settings, chat_model=chat_model)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield AppHarness(app, client, settings)


AppFactory = Callable[..., Any]


@pytest.fixture
def app_factory(tmp_path: Path, database_url: str) -> AppFactory:
    """`async with app_factory(model=scripted_model(...), **settings) as harness:`"""

    def factory(model: BaseChatModel | None = None, **overrides: Any) -> Any:
        settings = make_settings(tmp_path, database_url=database_url, **overrides)
        return running_app(settings, model or scripted_model())

    return factory


# A real server on loopback -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    app: FastAPI
    base_url: str
    settings: Settings
    server: uvicorn.Server

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=30, **kwargs)


@asynccontextmanager
async def live_server(
    settings: Settings, chat_model: BaseChatModel | None = None
) -> AsyncIterator[LiveServer]:
    """uvicorn serving the app on a free loopback port, in this test's event loop."""
    app = create_app(settings, chat_model=chat_model)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield LiveServer(app, f"http://127.0.0.1:{port}", settings, server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


@pytest.fixture
def live_server_factory(tmp_path: Path, database_url: str) -> AppFactory:
    def factory(model: BaseChatModel | None = None, **overrides: Any) -> Any:
        settings = make_settings(tmp_path, database_url=database_url, **overrides)
        return live_server(settings, model or scripted_model())

    return factory
