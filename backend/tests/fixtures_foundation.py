"""Foundation test fixtures: a recording model, error checks, scratch DBs, a llama server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field
from sqlalchemy import Connection, inspect, text
from sqlalchemy.pool import NullPool

from app.db import models  # noqa: F401  (registers the tables on Base.metadata)
from app.db.base import Base
from app.db.session import create_engine
from app.llm.local import bundled_model_path
from app.llm.scripted import ScriptedChatModel
from tests.conftest import IN_CI, POSTGRES_ADMIN_URL, free_port

BACKEND_DIR = Path(__file__).resolve().parents[1]
CHATSTREAM_BIN = BACKEND_DIR / ".venv" / "bin" / "chatstream"
APP_TABLES = {"users", "conversations", "messages", "onboarding_states"}


# Models ----------------------------------------------------------------------------------------


class RecordingChatModel(ScriptedChatModel):
    """The scripted model, keeping the messages of every call it gets (oldest call first)."""

    calls: list[list[BaseMessage]] = Field(default_factory=list)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.calls.append(list(messages))
        async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
            yield chunk

    @property
    def last_call(self) -> list[BaseMessage]:
        assert self.calls, "the model was never called"
        return self.calls[-1]


def recording_model(
    text: str | None = None, *, delay_s: float = 0.0, **kwargs: Any
) -> RecordingChatModel:
    return cast(RecordingChatModel, RecordingChatModel.from_text(text, delay_s=delay_s, **kwargs))


# Responses -------------------------------------------------------------------------------------


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    """The response is the JSON error envelope `{"error": {"code", "message"}}`; its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert list(body) == ["error"], body
    assert body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert isinstance(message, str) and message.strip(), body
    return message


# Databases -------------------------------------------------------------------------------------


def sqlite_file_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def _postgres_admin(sql: str, attempts: int = 5) -> None:
    """Run one statement as the admin; retried, since CREATE DATABASE fails while another
    test run is copying template1 at the same moment (and a busy machine can be slow)."""
    for attempt in range(attempts):
        engine = create_engine(POSTGRES_ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            async with asyncio.timeout(30):
                async with engine.connect() as connection:
                    await connection.execute(text(sql))
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
        finally:
            await engine.dispose()


@contextmanager
def scratch_postgres_database() -> Iterator[str]:
    """An empty PostgreSQL database of its own (not migrated), dropped afterwards."""
    name = f"chatstream_scratch_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL.split('@')[-1]}: {exc!r}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _inspect_sync(connection: Connection) -> tuple[set[str], list[Any]]:
    tables = set(inspect(connection).get_table_names())
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return tables, list(compare_metadata(context, Base.metadata))


def inspect_schema(url: str) -> tuple[set[str], list[Any]]:
    """(table names, differences between the database and the models) of a database."""

    async def run() -> tuple[set[str], list[Any]]:
        engine = create_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(_inspect_sync)
        finally:
            await engine.dispose()

    return asyncio.run(run())


# Processes -------------------------------------------------------------------------------------


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any ChatStream setting, plus `overrides`."""
    from app.core.config import Settings

    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(overrides)
    return env


@contextmanager
def llama_cpp_server(n_ctx: int = 1024) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on the bundled GGUF; yields its /v1 URL."""
    port = free_port()
    log = tempfile.TemporaryFile()  # a file, not a pipe: llama.cpp logs more than a pipe holds
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(bundled_model_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(n_ctx),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                output = log.read().decode(errors="replace")
                raise RuntimeError(f"llama_cpp.server exited early:\n{output[-2000:]}")
            try:
                if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not start listening within 60 s")
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()
