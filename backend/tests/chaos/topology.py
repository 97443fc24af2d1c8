"""The scaled topology of docs/deployment.md, started for real: a PostgreSQL server, a Redis and
a Celery worker of the suite's own, two `chatstream serve` processes, and nginx in front of them
with deploy/nginx/chatstream.conf. Every piece can be killed, stopped and started again."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.fixtures.database import PG_BIN, TemporaryPostgres
from tests.fixtures.environment import CHATSTREAM_BIN, clean_env, free_port
from tests.fixtures.nginx import NGINX_SITE
from tests.fixtures.processes import stop_process
from tests.fixtures.waiting import wait_for_port

READY_TIMEOUT_S = 90.0  # the app imports LangChain: slow on a busy 2-core machine
OWNER_LEASE_S = 2.0


def preflight() -> list[str]:
    """What this machine lacks to run the topology (empty when nothing)."""
    problems = []
    if not CHATSTREAM_BIN.exists():
        problems.append(f"{CHATSTREAM_BIN} is missing (run `uv sync`)")
    if _nginx_binary() is None:
        problems.append("nginx is not installed (apt-get install nginx-light)")
    if shutil.which("redis-server") is None:
        problems.append("redis-server is not installed (apt-get install redis-server)")
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        problems.append(f"PostgreSQL 15 server binaries are not in {PG_BIN}")
    if shutil.which("runuser") is None or os.geteuid() != 0:
        problems.append("starting a PostgreSQL server of its own needs root and runuser")
    return problems


def _nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found is None and os.access("/usr/sbin/nginx", os.X_OK):
        found = "/usr/sbin/nginx"
    return found


@dataclass(frozen=True)
class Pace:
    """How the scripted model answers: `chunks` word-sized chunks, `chunk_delay_s` apart."""

    chunks: int
    chunk_delay_s: float


class Process:
    """A child process whose stdout and stderr go to a log file kept across restarts."""

    def __init__(self, name: str, command: list[str], log_path: Path, **popen: object) -> None:
        self.name = name
        self.command = command
        self.log_path = log_path
        self.popen = popen
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # type: ignore[call-overload]
                self.command, stdout=log, stderr=subprocess.STDOUT, **self.popen
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final save, no goodbye."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            stop_process(self.process, sig)

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None


class RedisServer(Process):
    """`redis-server` on one port across restarts, with its append-only file on, as
    docs/deployment.md tells operators to run it: a Redis that forgets everything on a restart
    takes the logs of answers not yet recovered, and the Celery queue of saves waiting for a
    retry, with it (documented, and a race with the machine's speed, not an invariant)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        binary = shutil.which("redis-server") or "redis-server"
        data = directory / "redis-data"
        data.mkdir(parents=True, exist_ok=True)
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(data)]
        command += ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"]
        command += ["--maxclients", "20000"]
        super().__init__("redis", command, directory / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        super().start()
        wait_for_port(self.port, self.process, 15)

    def restart(self) -> None:
        """Stop (SIGTERM: the append-only file is flushed) and start again: every connection
        drops, and what Redis held (logs, leases, the Celery queue) is read back from disk."""
        self.stop()
        self.start()


class ApiProcess(Process):
    """`chatstream serve --port P`, restarted on the same port."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.port = free_port()
        data_dir = Path(env["DATA_DIR"])
        data_dir.mkdir(parents=True, exist_ok=True)
        command = [str(CHATSTREAM_BIN), "serve", "--port", str(self.port)]
        # cwd is its data directory: no stray .env file can change its settings.
        super().__init__(name, command, data_dir / "serve.log", cwd=data_dir, env=env)

    async def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until /readyz answers 200."""
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.exited():
                    raise RuntimeError(f"{self.name} exited:\n{_tail(self.log_path)}")
                try:
                    response = await client.get(f"http://127.0.0.1:{self.port}/readyz")
                    if response.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not ready in {timeout_s} s")
                await asyncio.sleep(0.2)


class CeleryWorker(Process):
    """`chatstream worker`: retries the answer saves the API could not make."""

    def __init__(self, env: dict[str, str]) -> None:
        data_dir = Path(env["DATA_DIR"])
        data_dir.mkdir(parents=True, exist_ok=True)
        command = [str(CHATSTREAM_BIN), "worker", "--concurrency", "2"]
        super().__init__("worker", command, data_dir / "worker.log", cwd=data_dir, env=env)
        self.restarts = 0

    async def supervise(self) -> None:
        """Start it again whenever it exits, as the supervisor docs/deployment.md asks for does.
        A worker whose broker connection drops while it holds saves waiting for a retry can
        exit (kombu fails to put them back); its saves return to the queue after
        UNACKED_SAVE_TIMEOUT_S, for the worker that replaces it."""
        while True:
            await asyncio.sleep(0.5)
            if self.exited():
                self.restarts += 1
                with self.log_path.open("a") as log:
                    log.write(f"chaos: the worker exited; restart {self.restarts}\n")
                self.start()

    async def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while "ready" not in self.log_path.read_text(errors="replace"):
            if self.exited() or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{_tail(self.log_path)}")
            await asyncio.sleep(0.2)


class Nginx(Process):
    """nginx with the repository's site file, its upstream the API processes."""

    def __init__(self, directory: Path, upstream_ports: list[int], connections: int) -> None:
        self.port = free_port()
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        config = _nginx_conf(directory, upstream_ports, self.port, connections)
        self.error_log = directory / "error.log"
        self.access_log = directory / "access.log"
        binary = _nginx_binary() or "nginx"
        self.args = [binary, "-c", str(config), "-p", str(directory), "-e", str(self.error_log)]
        super().__init__("nginx", self.args, directory / "nginx.out")

    def start(self) -> None:
        check = subprocess.run([*self.args, "-t"], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejected the config:\n{check.stderr}")
        super().start()
        wait_for_port(self.port, self.process, 15)


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise RuntimeError(f"expected {old!r} exactly once in {NGINX_SITE}")
    return text.replace(old, new)


def _nginx_conf(directory: Path, upstream_ports: list[int], listen_port: int, conns: int) -> Path:
    """deploy/nginx/chatstream.conf as deployed (its balancing included), in an nginx.conf whose
    paths are all in `directory`. One addition: the stream routes name the upstream that served
    each response (`X-Upstream`), so a violation's story says which process was involved."""
    site = NGINX_SITE.read_text()
    servers = "\n    ".join(f"server 127.0.0.1:{port};" for port in upstream_ports)
    site = _replace_once(site, "server 127.0.0.1:8000;", servers)
    site = _replace_once(site, "listen 80;", f"listen 127.0.0.1:{listen_port};")
    site = _replace_once(
        site, "/var/log/nginx/chatstream.access.log", str(directory / "access.log")
    )
    site = _replace_once(
        site, "/var/log/nginx/chatstream.error.log", str(directory / "stream-error.log")
    )
    site = _replace_once(
        site,
        "proxy_buffering off;",
        "add_header X-Upstream $upstream_addr always;\n        proxy_buffering off;",
    )
    root = directory / "www"
    (root / "assets").mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text("<!doctype html><title>ChatStream</title>")
    site = _replace_once(site, "root /srv/chatstream/frontend/dist;", f"root {root};")
    temp = "\n".join(
        f"    {name}_temp_path {directory / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = directory / "nginx.conf"
    # The error log at nginx's default level (`error`), as a production nginx.conf has it.
    config.write_text(
        f"user root;\ndaemon off;\nworker_processes 1;\nworker_rlimit_nofile {4 * conns};\n"
        f"pid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'} error;\n"
        f"events {{ worker_connections {3 * conns}; }}\n"
        f"http {{\n{temp}\n    access_log off;\n{site}\n}}\n"
    )
    return config


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


@dataclass
class Topology:
    directory: Path
    postgres: TemporaryPostgres
    redis: RedisServer
    apis: list[ApiProcess]
    worker: CeleryWorker
    nginx: Nginx

    @property
    def database_url(self) -> str:
        return self.postgres.url

    def logs(self) -> dict[str, Path]:
        """Every log a process of the topology wrote, by name."""
        logs = {api.name: api.log_path for api in self.apis}
        logs.update(
            worker=self.worker.log_path,
            redis=self.redis.log_path,
            postgres=self.postgres.root / "log",
            **{
                "nginx error log": self.nginx.error_log,
                "nginx stream error log": self.nginx.error_log.with_name("stream-error.log"),
                "nginx access log": self.nginx.access_log,
                "nginx output": self.nginx.log_path,
            },
        )
        return logs

    # The faults ---------------------------------------------------------------------------------

    async def kill_and_restart_api(self, api: ApiProcess) -> float:
        """SIGKILL one API process and start it again; seconds until it was ready."""
        await asyncio.to_thread(api.kill)
        started = time.monotonic()
        api.start()
        await api.wait_ready()
        return time.monotonic() - started

    async def stop_and_start_postgres(self, outage_s: float) -> None:
        """Stop the PostgreSQL server (its connections end), keep it down `outage_s`, start it."""
        await asyncio.to_thread(self.postgres.stop)
        await asyncio.sleep(outage_s)
        await asyncio.to_thread(self.postgres.start)

    async def restart_redis(self) -> None:
        await asyncio.to_thread(self.redis.restart)


def api_env(
    data_dir: Path, database_url: str, redis_url: str, pace: Pace, **settings: str
) -> dict[str, str]:
    """The environment of an API process (and of the worker) under chaos."""
    return clean_env(
        CHATSTREAM_ENV="test",
        DATA_DIR=str(data_dir),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        LLM_MODEL="scripted",
        SCRIPTED_CHUNKS=str(pace.chunks),
        SCRIPTED_CHUNK_DELAY_S=str(pace.chunk_delay_s),
        ENABLE_STREAMING="true",
        LOG_LEVEL="info",
        LOG_FORMAT="json",
        # Admit the whole load: the limits are not what is tested here.
        RATE_LIMIT_MESSAGES_PER_HOUR="1000000",
        RATE_LIMIT_CONCURRENT_STREAMS="100000",
        STREAM_OWNER_LEASE_S=str(OWNER_LEASE_S),
        STREAM_RETRY_MS="500",
        STREAM_PING_INTERVAL_S="5",
        STREAM_TOKEN_EXPIRE_SECONDS="3600",
        PYTHONUNBUFFERED="1",  # each log line written as it happens, up to a SIGKILL
        **settings,
    )


def _migrate(env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(CHATSTREAM_BIN), "migrate"],
        cwd=env["DATA_DIR"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"chatstream migrate failed:\n{result.stderr}")


@asynccontextmanager
async def running_topology(
    directory: Path, pace: Pace, connections: int
) -> AsyncIterator[Topology]:
    """Everything started (the API processes boot in parallel) and stopped again afterwards."""
    async with AsyncExitStack() as stack:
        postgres = TemporaryPostgres()
        stack.callback(postgres.remove)
        await asyncio.to_thread(postgres.start)
        redis = RedisServer(directory)
        redis.start()
        stack.callback(redis.stop)

        def env(name: str) -> dict[str, str]:
            (directory / name).mkdir(parents=True, exist_ok=True)
            return api_env(directory / name, postgres.url, redis.url, pace)

        await asyncio.to_thread(_migrate, env("migrate"))
        apis = [ApiProcess(name, env(name)) for name in ("api-a", "api-b")]
        worker = CeleryWorker(env("worker"))
        for api in apis:
            api.start()
            stack.callback(api.stop)
        worker.start()
        stack.callback(worker.stop, signal.SIGQUIT)  # cold: nothing is left for it to finish
        await asyncio.gather(*(api.wait_ready() for api in apis), worker.wait_ready())
        supervisor = asyncio.create_task(worker.supervise(), name="chaos-worker-supervisor")
        stack.push_async_callback(_cancelled, supervisor)  # before the worker stops
        nginx = Nginx(directory / "nginx", [api.port for api in apis], connections)
        nginx.start()
        stack.callback(nginx.stop, signal.SIGQUIT)
        yield Topology(directory, postgres, redis, apis, worker, nginx)


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
