"""The run's setup: ChatStream's settings and database, the servers, users, paths, warm-up."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from clients import run_clients
from common import BENCH, HOST, PY, sign_up
from servers import Server
from sizes import Sizes

_INSPECT = """
import json
import app
from app.core.config import Settings
from app.llm.scripted import DEFAULT_SCRIPTED_TEXT, split_into_chunks
print(json.dumps({
    "pieces": split_into_chunks(DEFAULT_SCRIPTED_TEXT) or [""],
    "env": sorted(name.upper() for name in Settings.model_fields),
    "app_dir": app.__path__[0],
}))
"""


def inspect_chatstream() -> subprocess.Popen[str]:
    """The scripted model's pieces (for the baseline) and every setting's environment variable
    (so none is inherited by accident), read by ChatStream's own code in a subprocess."""
    return subprocess.Popen(  # noqa: S603
        [PY, "-c", _INSPECT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


class Harness:
    def __init__(self, sizes: Sizes, workdir: Path) -> None:
        self.sizes = sizes
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.data_dir.mkdir()
        self.pieces_file = workdir / "pieces.json"
        self.base_env = {"PYTHONUNBUFFERED": "1"}
        self.tokens: list[str] = []
        self.app_dir = ""
        self.run_tag = uuid.uuid4().hex[:8]
        self.counter = 0
        self._counting = threading.Lock()  # (e) runs two servers' clients at once

    def chatstream_env(self, chunks: int, delay_s: float, **extra: str) -> dict[str, str]:
        return {
            **self.base_env,
            "CHATSTREAM_ENV": "development",
            "DATA_DIR": str(self.data_dir),
            "LLM_MODEL": "scripted",
            "SCRIPTED_CHUNKS": str(chunks),
            "SCRIPTED_CHUNK_DELAY_S": str(delay_s),
            "ENABLE_STREAMING": "true",
            "STREAMING_ROLLOUT_PERCENT": "100",
            "LOG_LEVEL": "warning",
            "RATE_LIMIT_CONCURRENT_STREAMS": "1000000",
            "RATE_LIMIT_MESSAGES_PER_HOUR": "1000000",
            "STREAM_IDLE_TIMEOUT_S": "120",
            # The users' tokens are made once, at the start, and a full run takes longer than
            # the default 15-minute access token: (f) came after 16 minutes and got a 401.
            "ACCESS_TOKEN_EXPIRE_MINUTES": "240",
            **extra,
        }

    def prepare(self) -> None:
        """Read ChatStream's settings and script, then migrate its database (same time)."""
        inspect = inspect_chatstream()
        # Migrate meanwhile; only the database settings matter there, and ours win.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
        migrate = subprocess.Popen(  # noqa: S603
            [PY, str(BENCH / "chatstream_serve.py"), "migrate"],
            env={**inherited, **self.chatstream_env(1, 0.0)},
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        out, err = inspect.communicate(timeout=120)
        migrated, _ = migrate.communicate(timeout=120)
        if inspect.returncode != 0:
            raise RuntimeError(f"could not import ChatStream's app package:\n{err[-2000:]}")
        if migrate.returncode != 0:
            raise RuntimeError(f"chatstream migrate failed:\n{migrated[-3000:]}")
        found = json.loads(out.strip().splitlines()[-1])
        self.pieces_file.write_text(json.dumps(found["pieces"], ensure_ascii=False))
        self.app_dir = found["app_dir"]  # the back end measured (PYTHONPATH can point elsewhere)
        ignore = set(found["env"]) | {"METRICS_PORT", "PROMETHEUS_MULTIPROC_DIR"}
        self.base_env = {k: v for k, v in os.environ.items() if k not in ignore}
        self.base_env["PYTHONUNBUFFERED"] = "1"

    def chatstream(self, chunks: int, delay_s: float, **extra: str) -> Server:
        return Server(
            "chatstream",
            [PY, str(BENCH / "chatstream_serve.py"), "serve", "--host", HOST, "--port", "{port}"],
            self.chatstream_env(chunks, delay_s, **extra),
            self.workdir,
        )

    def chatstream_redis(
        self, name: str, chunks: int, delay_s: float, redis_url: str, **extra: str
    ) -> Server:
        """ChatStream in scaled mode: REDIS_URL set, the same database as the others, and a
        DATA_DIR of its own, so its /metrics (Prometheus multiprocess files live in DATA_DIR)
        count this server's processes only."""
        data_dir = self.workdir / f"data-{name}"
        data_dir.mkdir(exist_ok=True)
        env = self.chatstream_env(
            chunks,
            delay_s,
            DATA_DIR=str(data_dir),
            DATABASE_URL=f"sqlite+aiosqlite:///{self.data_dir / 'chatstream.db'}",
            REDIS_URL=redis_url,
            **extra,
        )
        return Server(
            name,
            [PY, str(BENCH / "chatstream_serve.py"), "serve", "--host", HOST, "--port", "{port}"],
            env,
            self.workdir,
        )

    def chatstream_workers(
        self, name: str, chunks: int, delay_s: float, redis_url: str, workers: int
    ) -> Server:
        """ChatStream in scaled mode as `chatstream serve --workers N`."""
        server = self.chatstream_redis(name, chunks, delay_s, redis_url)
        server.cmd += ["--workers", str(workers)]
        return server

    def baseline(self, chunks: int, delay_s: float) -> Server:
        env = {
            **self.base_env,
            "BASELINE_CHUNKS": str(chunks),
            "BASELINE_CHUNK_DELAY_S": str(delay_s),
            "BASELINE_PIECES_FILE": str(self.pieces_file),
        }
        return Server(
            "baseline",
            [PY, str(BENCH / "baseline_server.py"), "--host", HOST, "--port", "{port}"],
            env,
            self.workdir,
        )

    def create_users(self, server: Server) -> None:
        def one(i: int) -> str:
            return sign_up(
                server.port,
                f"bench-{self.run_tag}-{i}@example.com",
                f"bench-password-{self.run_tag}",
                f"Bench {i}",
            )

        with ThreadPoolExecutor(max_workers=4) as pool:
            self.tokens = list(pool.map(one, range(self.sizes.users)))

    def paths(self, n: int) -> list[str]:
        """Unique request paths (same length for both servers), streams spread over the users."""
        message = urllib.parse.quote("Benchmark: tell me something.")
        out = []
        with self._counting:
            first = self.counter + 1
            self.counter += n
        for i in range(n):
            cmid = f"bench-{self.run_tag}-{first + i:07d}"
            token = self.tokens[i % len(self.tokens)]
            out.append(
                f"/api/v1/chat/stream?message={message}&client_message_id={cmid}&token={token}"
            )
        return out


def warm_up(h: Harness, server: Server, chunks: int, interval_s: float) -> None:
    n = h.sizes.warmup_streams
    run_clients(
        h.workdir,
        server.port,
        h.paths(n),
        1,
        {
            "mode": "streams",
            "ramp_s": 0,
            "expected_chunks": chunks,
            "deadline_s": 60 + chunks * interval_s * 2,
        },
    )


def warm_pair(h: Harness, servers: tuple[Server, Server], chunks: int, interval_s: float) -> None:
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda srv: warm_up(h, srv, chunks, interval_s), servers))
