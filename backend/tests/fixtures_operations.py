"""Helpers for the operations tests: SQLite servers, captured logs, metrics, Redis, nginx.

Plain functions and context managers; each test module wraps the few it needs in fixtures.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import structlog
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from prometheus_client.parser import text_string_to_metric_families

from app.llm.scripted import ScriptedChatModel
from tests.conftest import (
    IN_CI,
    free_port,
    live_server,
    make_settings,
    running_app,
    scripted_model,
)
from tests.helpers import new_client_id
from tests.sse_client import SSEEvent, SSEParser

BACKEND_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = BACKEND_DIR.parent
CHATSTREAM_BIN = Path(sys.executable).parent / "chatstream"
STREAM_PATH = "/api/v1/chat/stream"
ONBOARDING_STREAM_PATH = "/api/v1/chat/onboarding-stream"

T = TypeVar("T")


# Waiting ----------------------------------------------------------------------------------------


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    """Block until something accepts connections on 127.0.0.1:`port`."""
    import socket

    deadline = time.monotonic() + timeout_s
    while True:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before listening")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing listened on port {port} within {timeout_s} s")
        time.sleep(0.05)


# A model told what to do by the message itself -------------------------------------------------

_DIRECTIVE = re.compile(r"\[(fail|stall)@(\d+)\]")


class DirectedModel(ScriptedChatModel):
    """The scripted model; a user message containing `[fail@N]` or `[stall@N]` makes it raise or
    go silent after N chunks, so one server can play every ending."""

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        model: ScriptedChatModel = self
        found = _DIRECTIVE.search(str(messages[-1].content))
        if found:
            model = self.model_copy(update={f"{found[1]}_after": int(found[2])})
        async for chunk in ScriptedChatModel._astream(model, messages, stop, run_manager, **kwargs):
            yield chunk


def directed_model(
    text: str = "One two three four five six.", delay_s: float = 0.0
) -> DirectedModel:
    model = DirectedModel.from_text(text, delay_s=delay_s)
    assert isinstance(model, DirectedModel)
    return model


# Servers and apps on SQLite (the operations features do not depend on the database) -----------

ServerFactory = Callable[..., Any]


def sqlite_server_factory(tmp_path: Path, sqlite_url: str) -> ServerFactory:
    """`async with factory(model=..., **settings) as server:` a live server on SQLite."""

    def factory(model: BaseChatModel | None = None, **overrides: Any) -> Any:
        overrides.setdefault("database_url", sqlite_url)
        settings = make_settings(tmp_path, **overrides)
        return live_server(settings, model or scripted_model())

    return factory


def sqlite_app_factory(tmp_path: Path, sqlite_url: str) -> ServerFactory:
    """`async with factory(model=..., **settings) as harness:` the app in process, on SQLite."""

    def factory(model: BaseChatModel | None = None, **overrides: Any) -> Any:
        overrides.setdefault("database_url", sqlite_url)
        settings = make_settings(tmp_path, **overrides)
        return running_app(settings, model or scripted_model())

    return factory


# Accounts and streams ---------------------------------------------------------------------------


# One home for these (tests/helpers.py); re-exported for the tests that import them here.
from tests.helpers import Account as Account  # noqa: E402
from tests.helpers import new_account as new_account  # noqa: E402


def stream_params(token: str, message: str = "Hello", **extra: str) -> dict[str, str]:
    return {"message": message, "token": token, "client_message_id": new_client_id(), **extra}


@dataclass
class Stream:
    """One SSE response read as it arrives (events grow live, so another task can watch)."""

    status_code: int | None = None
    headers: httpx.Headers | None = None
    body: str = ""
    events: list[SSEEvent] = field(default_factory=list)
    ended_by_server: bool = False

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [event.json for event in self.events]

    @property
    def types(self) -> list[str]:
        return [payload["type"] for payload in self.payloads]

    @property
    def message_id(self) -> str:
        start = self.payloads[0]
        assert start["type"] == "start", self.types
        value: str = start["message_id"]
        return value

    @property
    def terminal(self) -> dict[str, Any]:
        payload = self.payloads[-1]
        assert payload["type"] in {"complete", "error"}, self.types
        return payload

    def count(self, kind: str) -> int:
        return self.types.count(kind)


async def read_stream(
    client: httpx.AsyncClient,
    params: dict[str, str],
    *,
    path: str = STREAM_PATH,
    headers: dict[str, str] | None = None,
    into: Stream | None = None,
    stop_after: int | None = None,
) -> Stream:
    """GET a stream and read it to its end (or close it after `stop_after` events)."""
    stream = into or Stream()
    async with client.stream("GET", path, params=params, headers=headers or {}) as response:
        stream.status_code = response.status_code
        stream.headers = response.headers
        if response.status_code != 200:
            await response.aread()
            stream.body = response.text
            return stream
        parser = SSEParser()
        async for text in response.aiter_text():
            for event in parser.feed(text):
                stream.events.append(event)
                if stop_after is not None and len(stream.events) >= stop_after:
                    return stream
        stream.ended_by_server = True
    return stream


def start_stream(
    client: httpx.AsyncClient, params: dict[str, str], *, path: str = STREAM_PATH
) -> tuple[Stream, asyncio.Task[Stream]]:
    """Read a stream in a task of its own; the returned Stream fills up as events arrive."""
    stream = Stream()
    task = asyncio.create_task(read_stream(client, params, path=path, into=stream))
    return stream, task


def assert_error_response(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The JSON error envelope with this status and code; returns the `error` object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"].strip()
    error: dict[str, Any] = body["error"]
    return error


# Logs -------------------------------------------------------------------------------------------


class LogCapture:
    """Everything the root logger's handler writes (configure_logging installs exactly one)."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.strip()]

    def records(self) -> list[dict[str, Any]]:
        """Every line as a JSON object (fails on any line that is not one)."""
        records = []
        for line in self.lines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise AssertionError(f"a log line is not JSON: {line!r}") from exc
            assert isinstance(record, dict), line
            records.append(record)
        return records

    def events(self, name: str, **match: Any) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records()
            if r.get("event") == name and all(r.get(k) == v for k, v in match.items())
        ]

    def clear(self) -> None:
        self.stream.seek(0)
        self.stream.truncate()


@contextmanager
def capture_logs() -> Iterator[LogCapture]:
    """Point the root logger's stream handler at a buffer (call after the app is created)."""
    capture = LogCapture()
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler)
        and isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    ]
    assert len(handlers) == 1, f"expected configure_logging's one handler, found {handlers}"
    previous = handlers[0].setStream(capture.stream)
    try:
        yield capture
    finally:
        if previous is not None:
            handlers[0].setStream(previous)


# Metrics ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metrics:
    """One /metrics reading: sample name and labels → value."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    @classmethod
    def parse(cls, text: str) -> Metrics:
        samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return cls(samples)

    def value(self, name: str, **labels: str) -> float:
        """The sum of every sample of `name` whose labels include `labels` (0 when absent)."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= ls)

    def has(self, name: str) -> bool:
        return any(n == name for n, _ in self.samples)

    def bucket_bounds(self, name: str, **labels: str) -> list[float]:
        wanted = set(labels.items())
        bounds = {
            float(dict(ls)["le"])
            for (n, ls), _ in self.samples.items()
            if n == f"{name}_bucket" and wanted <= ls
        }
        return sorted(bounds)

    def buckets(self, name: str, **labels: str) -> dict[float, float]:
        """Upper bound → cumulative count of histogram `name`, summed over other labels."""
        wanted = set(labels.items())
        found: dict[float, float] = {}
        for (n, ls), value in self.samples.items():
            if n == f"{name}_bucket" and wanted <= ls:
                bound = float(dict(ls)["le"])
                found[bound] = found.get(bound, 0.0) + value
        return found

    def delta(self, before: Metrics, name: str, **labels: str) -> float:
        return self.value(name, **labels) - before.value(name, **labels)


async def read_metrics(client: httpx.AsyncClient, url: str = "/metrics") -> Metrics:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    return Metrics.parse(response.text)


# Processes --------------------------------------------------------------------------------------


def clean_env(**overrides: str) -> dict[str, str]:
    """This environment without any ChatStream setting (or metrics dir), plus `overrides`."""
    from app.core.config import Settings

    names = {name.upper() for name in Settings.model_fields} | {"PROMETHEUS_MULTIPROC_DIR"}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(overrides)
    return env


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# Redis ------------------------------------------------------------------------------------------

REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@dataclass
class RedisTarget:
    """A Redis URL for tests; every key naming one of `ids` is deleted at the end."""

    url: str
    ids: list[str] = field(default_factory=list)

    def new_id(self) -> uuid.UUID:
        value = uuid.uuid4()
        self.ids.append(str(value))
        return value

    def cleanup(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            for value in self.ids:
                keys = list(client.scan_iter(match=f"*{value}*"))
                if keys:
                    client.delete(*keys)
        finally:
            client.close()


@contextmanager
def redis_target() -> Iterator[RedisTarget]:
    """Redis at REDIS_TEST_URL: fail if absent under CI=true, skip visibly otherwise."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis is not reachable at {REDIS_TEST_URL}: {exc}"
        if IN_CI:
            pytest.fail(message + " (required when CI=true)")
        pytest.skip(message)
    finally:
        client.close()
    target = RedisTarget(REDIS_TEST_URL)
    try:
        yield target
    finally:
        target.cleanup()


# nginx ------------------------------------------------------------------------------------------

NGINX_SITE = REPO_DIR / "deploy" / "nginx" / "chatstream.conf"


def find_nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )
    if found is None:
        message = "nginx is not installed (apt-get install nginx-light)"
        if IN_CI:
            pytest.fail(message + " (required when CI=true)")
        pytest.skip(message)
    return found


@dataclass
class Nginx:
    base_url: str
    directory: Path
    access_log: Path
    error_log: Path


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected {old!r} exactly once in {NGINX_SITE}"
    return text.replace(old, new)


def nginx_config(directory: Path, upstream_port: int, listen_port: int) -> Path:
    """deploy/nginx/chatstream.conf in a minimal nginx.conf whose paths are all in `directory`."""
    site = NGINX_SITE.read_text()
    site = _replace_once(site, "server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
    site = _replace_once(site, "listen 80;", f"listen 127.0.0.1:{listen_port};")
    site = _replace_once(
        site, "/var/log/nginx/chatstream.access.log", str(directory / "access.log")
    )
    root = directory / "www"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>ChatStream</title>")
    site = _replace_once(site, "root /srv/chatstream/frontend/dist;", f"root {root};")
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {name}_temp_path {directory / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = directory / "nginx.conf"
    config.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} info;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n{temp}\n    access_log off;\n{site}\n}}\n"
    )
    return config


@asynccontextmanager
async def nginx_in_front(upstream_port: int, directory: Path) -> AsyncIterator[Nginx]:
    """A real nginx with the repository's site config, proxying to 127.0.0.1:`upstream_port`."""
    binary = find_nginx()
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = nginx_config(directory, upstream_port, port)
    error_log = directory / "error.log"
    args = [binary, "-c", str(config), "-p", str(directory), "-e", str(error_log)]
    check = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, f"nginx rejected the config:\n{check.stderr}"
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.to_thread(wait_for_port, port, process, 15.0)
        yield Nginx(f"http://127.0.0.1:{port}", directory, directory / "access.log", error_log)
    finally:
        stop_process(process, signal.SIGQUIT)


# Rate-limit racers: OS processes that each build a RateLimiter on the same Redis -----------------

_RACER = r"""
import asyncio, json, sys, uuid
from app.core.config import Settings
from app.core.errors import RateLimited
from app.services.rate_limits import RateLimiter

async def race(job):
    user = uuid.UUID(job["user_id"])
    limiter = RateLimiter(Settings(
        _env_file=None,
        redis_url=job["redis_url"],
        rate_limit_concurrent_streams=job["concurrent"],
        rate_limit_messages_per_hour=job["hourly"],
    ))
    await limiter.check(user)  # connected to Redis before the race starts
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)

    async def one():
        lease = limiter.lease(user, uuid.uuid4())
        try:
            await lease.__aenter__()
        except RateLimited:
            return 0
        lease.keep()
        if job["release"]:
            await lease.release()
        return 1

    admitted = sum(await asyncio.gather(*(one() for _ in range(job["attempts"]))))
    print(json.dumps({"admitted": admitted}), flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # hold the leases until told
    await limiter.close()
    print("closed", flush=True)

async def main():
    while line := await asyncio.to_thread(sys.stdin.readline):
        await race(json.loads(line))

asyncio.run(main())
"""

_LEASE_HOLDER = r"""
import asyncio, json, sys, uuid
from app.services.rate_limits import RedisStreamSlots

async def main(args):
    slots = RedisStreamSlots(1, args["redis_url"], lease_ttl_s=args["ttl_s"])
    assert await slots.acquire(uuid.UUID(args["user_id"]), uuid.uuid4())
    print("held", flush=True)
    await asyncio.Event().wait()  # until killed, renewing the lease

asyncio.run(main(json.loads(sys.argv[1])))
"""


def _python(script: str, args: dict[str, Any]) -> subprocess.Popen[str]:
    """`python -c script json(args)` in the back end's directory, talking over stdin/stdout."""
    return subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(args)],
        cwd=BACKEND_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )


def _read_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    import selectors

    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            raise AssertionError(f"no output from process {process.pid} within {timeout_s} s")
    line = process.stdout.readline()
    assert line, f"process {process.pid} exited with {process.wait(5)}"
    return line.strip()


class RacerPool:
    """OS processes that each build a RateLimiter on the same Redis and, released at once, try
    many admissions at once for the same user."""

    def __init__(self, processes: int) -> None:
        self.racers = [_python(_RACER, {}) for _ in range(processes)]

    def _send(self, line: str) -> None:
        for racer in self.racers:
            assert racer.stdin is not None
            racer.stdin.write(line + "\n")
            racer.stdin.flush()

    def race(
        self,
        redis_url: str,
        user_id: uuid.UUID,
        *,
        attempts: int,
        concurrent: int,
        hourly: int,
        release: bool,
        while_held: Callable[[], None] = lambda: None,
    ) -> list[int]:
        """How many admissions each process got. `while_held` runs before any lets go."""
        job = {
            "redis_url": redis_url,
            "user_id": str(user_id),
            "attempts": attempts,
            "concurrent": concurrent,
            "hourly": hourly,
            "release": release,
        }
        self._send(json.dumps(job))
        for racer in self.racers:
            assert _read_line(racer, 60) == "ready"
        self._send("go")  # the barrier: every racer is connected and waiting
        admitted = [json.loads(_read_line(racer, 30))["admitted"] for racer in self.racers]
        while_held()
        self._send("done")
        for racer in self.racers:
            assert _read_line(racer, 30) == "closed"
        return admitted

    def close(self) -> None:
        for racer in self.racers:
            if racer.stdin is not None:
                racer.stdin.close()
        for racer in self.racers:
            try:
                racer.wait(10)
            except subprocess.TimeoutExpired:
                racer.kill()
                racer.wait(5)


@contextmanager
def process_holding_a_lease(
    redis_url: str, user_id: uuid.UUID, ttl_s: float
) -> Iterator[subprocess.Popen[str]]:
    """A process that took the user's one stream slot and keeps renewing it until killed."""
    args = {"redis_url": redis_url, "user_id": str(user_id), "ttl_s": ttl_s}
    holder = _python(_LEASE_HOLDER, args)
    try:
        assert _read_line(holder, 60) == "held"
        yield holder
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(5)
