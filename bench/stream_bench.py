"""ChatStream's streaming benchmark: ChatStream against a bare Starlette SSE baseline, same run.

    backend/.venv/bin/python bench/stream_bench.py            # full run (a few minutes)
    backend/.venv/bin/python bench/stream_bench.py --quick    # smoke run (under a minute)
    backend/.venv/bin/python bench/stream_bench.py --scenario a,c

Scenarios (targets from the issue; ratios are against the baseline measured in the same run):
  a  throughput: 100 concurrent streams x 2,000 chunks, no pacing; events/s >= 50% of baseline
  b  1,000 concurrent streams paced at 20 chunks/s: all complete, zero errors,
     p99 delivery delay <= 2x baseline
  c  time from request to the `start` event, sequential requests on an idle server: median <= 15 ms
  d  memory per open stream (server RSS with N open slow streams minus idle, / N) <= 100 KB,
     and a leak check (tasks, connections, RSS after the streams end)

Both servers are subprocesses started with the same uvicorn settings; the client (sse_client.py)
runs in processes of its own, the same code for both. Everything is on 127.0.0.1. Benchmarks,
not tests: this script never fails on a timing (exit 0 unless the benchmark itself broke).
README.md explains how to read the results.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BACKEND = ROOT / "backend"
RESULTS = BENCH / "results"
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"


# Sizes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    users: int
    a_streams: int
    a_chunks: int
    a_reps: int
    b_streams: int
    b_chunks: int
    b_interval_s: float
    b_ramp_s: float
    b_clients: int
    c_requests: int
    c_chunks: int
    d_streams: int
    d_chunks: int
    d_interval_s: float
    d_ramp_s: float
    d_rounds: int
    d_clients: int
    warmup_streams: int


FULL = Sizes(
    users=20,
    a_streams=100,
    a_chunks=2000,
    a_reps=3,
    b_streams=1000,
    b_chunks=300,
    b_interval_s=0.05,
    b_ramp_s=5.0,
    b_clients=2,
    c_requests=150,
    c_chunks=5,
    d_streams=1000,
    d_chunks=20,
    d_interval_s=2.0,
    d_ramp_s=5.0,
    d_rounds=2,
    d_clients=2,
    warmup_streams=5,
)
QUICK = Sizes(
    users=5,
    a_streams=20,
    a_chunks=500,
    a_reps=1,
    b_streams=100,
    b_chunks=30,
    b_interval_s=0.05,
    b_ramp_s=1.0,
    b_clients=1,
    c_requests=30,
    c_chunks=500,  # = a_chunks: (c) runs on the (a) servers
    d_streams=100,
    d_chunks=6,
    d_interval_s=0.5,
    d_ramp_s=1.0,
    d_rounds=1,
    d_clients=1,
    warmup_streams=2,
)

D_BUFFER_TTL_S = 1  # STREAM_BUFFER_TTL_S for scenario d, so the leak check need not wait 300 s

TARGETS = {
    "a_ratio": 0.5,  # ChatStream events/s >= 50% of the baseline's
    "b_p99_ratio": 2.0,  # ChatStream p99 delivery delay <= 2x the baseline's
    "c_median_ms": 15.0,
    "d_kb_per_stream": 100.0,
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)  # noqa: T201


# Numbers ----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def rounded(value: Any, digits: int = 2) -> Any:
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def peak_concurrency(intervals: list[tuple[float, float]]) -> int:
    points: list[tuple[float, int]] = []
    for start, end in intervals:
        points.append((start, 1))
        points.append((end, -1))
    points.sort(key=lambda p: (p[0], p[1]))
    open_now = peak = 0
    for _, step in points:
        open_now += step
        peak = max(peak, open_now)
    return peak


# Processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(eq=False)
class Server:
    name: str
    cmd: list[str]
    env: dict[str, str]
    workdir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    probe_file: Path | None = None
    log_path: Path | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        self.port = free_port()
        self.probe_file = self.workdir / f"{self.name}-{self.port}.probe.json"
        self.log_path = self.workdir / f"{self.name}-{self.port}.log"
        env = {**self.env, "BENCH_PROBE_FILE": str(self.probe_file)}
        cmd = [c.replace("{port}", str(self.port)) for c in self.cmd]
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and scripts
                cmd, env=env, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start in {timeout_s:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _status(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        with open(f"/proc/{self.pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        return fields

    def rss_kb(self) -> int:
        return int(self._status()["VmRSS"].split()[0])

    def threads(self) -> int:
        return int(self._status()["Threads"])

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def sockets(self) -> int:
        """Open sockets (listening socket and connections), not the database's files."""
        count = 0
        base = f"/proc/{self.pid}/fd"
        for name in os.listdir(base):
            with contextlib.suppress(OSError):
                if os.readlink(f"{base}/{name}").startswith("socket:"):
                    count += 1
        return count

    def cpu_s(self) -> float:
        with open(f"/proc/{self.pid}/stat") as fh:
            parts = fh.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / CLK_TCK  # utime + stime, all threads

    def probe(self, timeout_s: float = 3.0) -> dict[str, Any] | None:
        """What the server's SIGUSR1 probe wrote (None if it did not answer in time)."""
        assert self.probe_file is not None
        before = self.probe_file.stat().st_mtime_ns if self.probe_file.exists() else 0
        sent = time.monotonic()
        os.kill(self.pid, signal.SIGUSR1)
        while time.monotonic() - sent < timeout_s:
            time.sleep(0.02)
            try:
                if self.probe_file.stat().st_mtime_ns != before:
                    data: dict[str, Any] = json.loads(self.probe_file.read_text())
                    if data.get("t", 0) >= sent - 0.01:
                        return data
            except (OSError, ValueError):
                continue
        return None

    def tasks(self) -> int | None:
        """The server's asyncio task count (None if the probe did not answer)."""
        data = self.probe()
        return None if data is None else data.get("tasks")

    def gc_pauses(self) -> dict[str, list[float]] | None:
        """Per collector generation: [collections, total pause s, longest pause s] so far."""
        data = self.probe()
        return None if data is None else data.get("gc")

    def snapshot(self) -> dict[str, Any]:
        return {
            "rss_kb": self.rss_kb(),
            "tasks": self.tasks(),
            "fds": self.fds(),
            "sockets": self.sockets(),
            "threads": self.threads(),
        }

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Sampler:
    """Samples a server's RSS and open file descriptors every `every_s` while a run is going."""

    def __init__(self, server: Server, every_s: float = 0.25) -> None:
        self.server = server
        self.every_s = every_s
        self.rss: list[int] = []
        self.fds: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for _ in range(100_000):  # bounded: ~7 hours at 0.25 s
            if self._stop.wait(self.every_s):
                return
            with contextlib.suppress(OSError, ValueError, KeyError):
                self.rss.append(self.server.rss_kb())
                self.fds.append(self.server.fds())

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class ClientRun:
    results: list[dict[str, Any]]
    started_at: list[float] = field(default_factory=list)  # "all_started" times, one per client

    @property
    def streams(self) -> list[dict[str, Any]]:
        return [s for r in self.results for s in r["streams"]]

    @property
    def cpu_s(self) -> float:
        return float(sum(r["cpu_s"] for r in self.results))


def run_clients(
    workdir: Path,
    port: int,
    paths: list[str],
    processes: int,
    job: dict[str, Any],
    on_all_started: Callable[[], None] | None = None,
) -> ClientRun:
    """Split the streams over `processes` client processes (round-robin) and collect results."""
    processes = max(1, min(processes, len(paths)))
    procs: list[subprocess.Popen[str]] = []
    outputs: list[list[str]] = [[] for _ in range(processes)]
    started_at: list[float] = []
    lock = threading.Lock()
    announced = threading.Event()

    def reader(index: int, stream: Any) -> None:
        for line in stream:
            line = line.strip()
            if not line:
                continue
            if line.startswith('{"event":"all_started"'):
                with lock:
                    started_at.append(json.loads(line)["t"])
                    if len(started_at) == processes:
                        announced.set()
                continue
            outputs[index].append(line)

    readers = []
    result_paths: list[Path] = []
    for index in range(processes):
        job_path = workdir / f"job-{uuid.uuid4().hex[:8]}.json"
        result_path = job_path.with_suffix(".result.json")
        result_paths.append(result_path)
        job_path.write_text(
            json.dumps(
                {
                    **job,
                    "host": HOST,
                    "port": port,
                    "paths": paths[index::processes],
                    "result_path": str(result_path),
                }
            )
        )
        proc = subprocess.Popen(  # noqa: S603
            [PY, str(BENCH / "sse_client.py"), str(job_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        thread = threading.Thread(target=reader, args=(index, proc.stdout), daemon=True)
        thread.start()
        readers.append(thread)

    limit = float(job["deadline_s"]) + 60.0
    started = time.monotonic()
    if on_all_started is not None:
        if announced.wait(timeout=limit):
            on_all_started()
        else:
            log("  (the clients never reported every stream started)")
    results: list[dict[str, Any]] = []
    for index, proc in enumerate(procs):
        remaining = max(1.0, limit - (time.monotonic() - started))
        try:
            proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        readers[index].join(timeout=10)
        stderr = proc.stderr.read() if proc.stderr else ""
        result = None
        if proc.returncode == 0 and result_paths[index].exists():
            result = json.loads(result_paths[index].read_text())
            result_paths[index].unlink()
        if result is None:
            raise RuntimeError(
                f"client {index} gave no result (exit {proc.returncode}):\n{stderr[-3000:]}"
            )
        results.append(result)
    return ClientRun(results, sorted(started_at))


# ChatStream setup -------------------------------------------------------------------------


_INSPECT = """
import json
from app.core.config import Settings
from app.llm.scripted import DEFAULT_SCRIPTED_TEXT, split_into_chunks
print(json.dumps({
    "pieces": split_into_chunks(DEFAULT_SCRIPTED_TEXT) or [""],
    "env": sorted(name.upper() for name in Settings.model_fields),
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
        self.run_tag = uuid.uuid4().hex[:8]
        self.counter = 0

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
            email = f"bench-{self.run_tag}-{i}@example.com"
            password = f"bench-password-{self.run_tag}"
            conn = http.client.HTTPConnection(HOST, server.port, timeout=60)
            body = json.dumps({"email": email, "password": password, "display_name": f"Bench {i}"})
            conn.request(
                "POST", "/api/v1/auth/register", body, {"Content-Type": "application/json"}
            )
            response = conn.getresponse()
            text = response.read()
            if response.status not in (201, 409):
                raise RuntimeError(f"register failed: {response.status} {text[:300]!r}")
            form = urllib.parse.urlencode({"username": email, "password": password})
            conn.request(
                "POST",
                "/api/v1/auth/token",
                form,
                {"Content-Type": "application/x-www-form-urlencoded"},
            )
            response = conn.getresponse()
            text = response.read()
            conn.close()
            if response.status != 200:
                raise RuntimeError(f"login failed: {response.status} {text[:300]!r}")
            token: str = json.loads(text)["access_token"]
            return token

        with ThreadPoolExecutor(max_workers=4) as pool:
            self.tokens = list(pool.map(one, range(self.sizes.users)))

    def paths(self, n: int) -> list[str]:
        """Unique request paths (same length for both servers), streams spread over the users."""
        message = urllib.parse.quote("Benchmark: tell me something.")
        out = []
        for i in range(n):
            self.counter += 1
            cmid = f"bench-{self.run_tag}-{self.counter:07d}"
            token = self.tokens[i % len(self.tokens)]
            out.append(
                f"/api/v1/chat/stream?message={message}&client_message_id={cmid}&token={token}"
            )
        return out


def start_all(servers: list[Server]) -> None:
    """Start the servers side by side (ChatStream's imports take seconds of CPU each)."""
    with ThreadPoolExecutor(max(1, len(servers))) as pool:
        for future in [pool.submit(server.start) for server in servers]:
            future.result()


def stop_all(servers: list[Server]) -> None:
    with ThreadPoolExecutor(max(1, len(servers))) as pool:
        list(pool.map(lambda server: server.stop(), servers))


def server_failures(streams: list[dict[str, Any]]) -> dict[str, int]:
    errors: dict[str, int] = {}
    for s in streams:
        if s["error"]:
            key = str(s["error"])[:120]
            errors[key] = errors.get(key, 0) + 1
    return errors


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


# Scenario a: throughput ----------------------------------------------------------------------


def run_a_once(h: Harness, server: Server) -> dict[str, Any]:
    s = h.sizes
    paths = h.paths(s.a_streams)
    cpu0 = server.cpu_s()
    with Sampler(server) as sampler:
        run = run_clients(
            h.workdir,
            server.port,
            paths,
            1,
            {"mode": "streams", "ramp_s": 0, "expected_chunks": s.a_chunks, "deadline_s": 240},
        )
    cpu = server.cpu_s() - cpu0
    streams = run.streams
    events = sum(x["chunks"] for x in streams)
    ended = [x["t_end"] for x in streams if x["t_end"] is not None]
    elapsed = max(ended) - min(x["t_sent"] for x in streams)
    return {
        "events": events,
        "elapsed_s": elapsed,
        "events_per_s": events / elapsed if elapsed > 0 else None,
        "server_cpu_s": cpu,
        "server_cpu_util": cpu / elapsed if elapsed > 0 else None,
        "events_per_server_cpu_s": events / cpu if cpu > 0 else None,
        "client_cpu_util": run.cpu_s / elapsed if elapsed > 0 else None,
        "completed": sum(1 for x in streams if x["complete"] and not x["error"]),
        "errors": server_failures(streams),
        "body_bytes_per_stream": statistics.median(x["bytes"] for x in streams),
        "peak_rss_kb": max(sampler.rss, default=None),
    }


def scenario_a(h: Harness, cs: Server, bl: Server) -> dict[str, Any]:
    s = h.sizes
    out: dict[str, list[dict[str, Any]]] = {"chatstream": [], "baseline": []}
    for rep in range(s.a_reps):
        # Alternate the order so a noisy neighbour does not always hit the same server.
        order = (
            [("chatstream", cs), ("baseline", bl)]
            if rep % 2 == 0
            else [("baseline", bl), ("chatstream", cs)]
        )
        for name, server in order:
            r = run_a_once(h, server)
            out[name].append(r)
            log(
                f"  a rep {rep + 1} {name:10s}: {r['events_per_s']:9.0f} events/s "
                f"({r['events_per_server_cpu_s']:9.0f} per server CPU-s, server CPU "
                f"{r['server_cpu_util']:.0%}, client CPU {r['client_cpu_util']:.0%}), "
                f"{r['completed']}/{s.a_streams} complete, errors {sum(r['errors'].values())}"
            )

    def med(name: str, key: str) -> float | None:
        values = [r[key] for r in out[name] if r[key] is not None]
        return statistics.median(values) if values else None

    summary: dict[str, Any] = {
        "streams": s.a_streams,
        "chunks_per_stream": s.a_chunks,
        "reps": s.a_reps,
        "chatstream": {
            "events_per_s": med("chatstream", "events_per_s"),
            "events_per_server_cpu_s": med("chatstream", "events_per_server_cpu_s"),
            "server_cpu_util": med("chatstream", "server_cpu_util"),
            "client_cpu_util": med("chatstream", "client_cpu_util"),
            "errors": sum(sum(r["errors"].values()) for r in out["chatstream"]),
            "incomplete": sum(s.a_streams - r["completed"] for r in out["chatstream"]),
        },
        "baseline": {
            "events_per_s": med("baseline", "events_per_s"),
            "events_per_server_cpu_s": med("baseline", "events_per_server_cpu_s"),
            "server_cpu_util": med("baseline", "server_cpu_util"),
            "client_cpu_util": med("baseline", "client_cpu_util"),
            "errors": sum(sum(r["errors"].values()) for r in out["baseline"]),
            "incomplete": sum(s.a_streams - r["completed"] for r in out["baseline"]),
        },
        "runs": out,
    }
    summary["ratio"] = ratio(
        summary["chatstream"]["events_per_s"], summary["baseline"]["events_per_s"]
    )
    summary["cpu_efficiency_ratio"] = ratio(
        summary["chatstream"]["events_per_server_cpu_s"],
        summary["baseline"]["events_per_server_cpu_s"],
    )
    summary["pair_ratios"] = [
        ratio(c["events_per_s"], b["events_per_s"])
        for c, b in zip(out["chatstream"], out["baseline"], strict=True)
    ]
    summary["met"] = summary["ratio"] is not None and summary["ratio"] >= TARGETS["a_ratio"]
    return summary


# Scenario b: paced streams -----------------------------------------------------------------


def run_b_once(h: Harness, server: Server) -> dict[str, Any]:
    s = h.sizes
    paths = h.paths(s.b_streams)
    duration = s.b_chunks * s.b_interval_s
    gc0 = server.gc_pauses()
    cpu0 = server.cpu_s()
    rss0 = server.rss_kb()
    with Sampler(server) as sampler:
        run = run_clients(
            h.workdir,
            server.port,
            paths,
            s.b_clients,
            {
                "mode": "streams",
                "ramp_s": s.b_ramp_s,
                "interval_s": s.b_interval_s,
                "record_arrivals": True,
                "expected_chunks": s.b_chunks,
                "deadline_s": s.b_ramp_s + duration * 3 + 60,
            },
        )
    streams = run.streams
    cpu = server.cpu_s() - cpu0
    gc_during = collector_pauses(gc0, server.gc_pauses())
    first = min(x["t_sent"] for x in streams)
    last = max(x["t_end"] for x in streams if x["t_end"] is not None)
    delays: list[float] = []
    e2e: list[float] = []
    opens: list[float] = []
    gaps: list[float] = []  # how late each chunk came after the one before it (no drift)
    # The same lateness by the second of the run it arrived in: where the delay builds up
    # (streams opening, all streams running, streams ending and being saved).
    gaps_by_second: dict[int, list[float]] = {}
    for x in streams:
        if x["t_start"] is not None:
            open_ms = (x["t_start"] - x["t_sent"]) * 1000
            opens.append(open_ms)
            previous = 0.0
            for k, d in enumerate(x.get("delays_ms") or []):
                delays.append(d)
                e2e.append(d + open_ms)
                gaps.append(d - previous)
                arrived = x["t_start"] + (k + 1) * s.b_interval_s + d / 1000 - first
                gaps_by_second.setdefault(int(arrived), []).append(d - previous)
                previous = d
    started = [x["t_start"] for x in streams if x["t_start"]]
    intervals = [(x["t_start"], x["t_end"]) for x in streams if x["t_start"] and x["t_end"]]
    completed = sum(1 for x in streams if x["complete"] and not x["error"])
    errors = server_failures(streams)
    quantiles = ("p50", "p95", "p99")
    return {
        "streams": s.b_streams,
        "completed": completed,
        "errors": errors,
        "error_count": sum(errors.values()),
        "events": sum(x["chunks"] for x in streams),
        "peak_concurrent_streams": peak_concurrency(intervals),
        "opens_per_s": len(started) / (max(started) - first) if len(started) > 1 else None,
        "delay_ms": {q: pct(delays, float(q[1:])) for q in quantiles}
        | {"max": max(delays, default=None)},
        "e2e_delay_ms": {q: pct(e2e, float(q[1:])) for q in quantiles},
        "gap_lateness_ms": {q: pct(gaps, float(q[1:])) for q in quantiles},
        "mean_gap_lateness_ms_by_second": {
            second: round(sum(values) / len(values), 3)
            for second, values in sorted(gaps_by_second.items())
        },
        "open_ms": {q: pct(opens, float(q[1:])) for q in quantiles}
        | {"max": max(opens, default=None)},
        "elapsed_s": last - first,
        "server_cpu_util": cpu / (last - first),
        "client_cpu_util": run.cpu_s / (last - first),
        "rss_before_kb": rss0,
        "peak_rss_kb": max(sampler.rss, default=None),
        "peak_fds": max(sampler.fds, default=None),
        "gc": gc_during,
    }


def collector_summary(pauses: dict[str, Any] | None) -> str:
    """`total / longest` pause in ms over every generation, for the table."""
    if not pauses:
        return "n/a"
    total = sum(g["pause_ms"] for g in pauses.values())
    longest = (
        max(g["longest_ms"] for g in pauses.values() if g["collections"])
        if any(g["collections"] for g in pauses.values())
        else 0.0
    )
    return f"{total:.0f} / {longest:.0f}"


def collector_pauses(
    before: dict[str, list[float]] | None, after: dict[str, list[float]] | None
) -> dict[str, Any] | None:
    """The garbage collector's pauses between two probes: collections and total pause per
    generation, and the longest pause seen by the second probe (the process's longest so far)."""
    if before is None or after is None:
        return None
    out: dict[str, Any] = {}
    for gen, (count, total, longest) in after.items():
        count0, total0, _ = before.get(gen, [0, 0.0, 0.0])
        out[f"gen{gen}"] = {
            "collections": int(count - count0),
            "pause_ms": round((total - total0) * 1000, 1),
            "longest_ms": round(longest * 1000, 1),
        }
    return out


def scenario_b(h: Harness, cs: Server, bl: Server) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, server in (("chatstream", cs), ("baseline", bl)):
        r = run_b_once(h, server)
        out[name] = r
        d = r["delay_ms"]
        log(
            f"  b {name:10s}: {r['completed']}/{r['streams']} complete, "
            f"errors {r['error_count']}, peak {r['peak_concurrent_streams']} open; "
            f"delay p50 {fmt(d['p50'])} p95 {fmt(d['p95'])} p99 {fmt(d['p99'])} ms; "
            f"open p50 {fmt(r['open_ms']['p50'])} ms; server CPU {r['server_cpu_util']:.0%}, "
            f"client CPU {r['client_cpu_util']:.0%}"
        )
        if r["errors"]:
            log(f"    errors: {r['errors']}")
        if r["gc"]:
            log(
                "    collector: "
                + "; ".join(
                    f"{gen} {g['collections']}x, {g['pause_ms']} ms, longest {g['longest_ms']} ms"
                    for gen, g in r["gc"].items()
                )
            )
    cs_r, bl_r = out["chatstream"], out["baseline"]
    out["p99_ratio"] = ratio(cs_r["delay_ms"]["p99"], bl_r["delay_ms"]["p99"])
    out["e2e_p99_ratio"] = ratio(cs_r["e2e_delay_ms"]["p99"], bl_r["e2e_delay_ms"]["p99"])
    out["gap_p99_ratio"] = ratio(cs_r["gap_lateness_ms"]["p99"], bl_r["gap_lateness_ms"]["p99"])
    out["chunks_per_stream"] = h.sizes.b_chunks
    out["interval_s"] = h.sizes.b_interval_s
    out["ramp_s"] = h.sizes.b_ramp_s
    out["all_complete"] = cs_r["completed"] == cs_r["streams"]
    out["zero_errors"] = cs_r["error_count"] == 0
    out["p99_met"] = out["p99_ratio"] is not None and out["p99_ratio"] <= TARGETS["b_p99_ratio"]
    out["met"] = bool(out["all_complete"] and out["zero_errors"] and out["p99_met"])
    return out


# Scenario c: time to the start event ----------------------------------------------------------


def run_c_once(h: Harness, server: Server) -> dict[str, Any]:
    s = h.sizes
    cpu0 = server.cpu_s()
    run = run_clients(
        h.workdir,
        server.port,
        h.paths(s.c_requests),
        1,
        {
            "mode": "sequential",
            "expected_chunks": s.c_chunks,
            "stream_timeout_s": 30,
            "pause_s": 0.02,
            "deadline_s": 120,
        },
    )
    cpu = server.cpu_s() - cpu0
    streams = run.streams
    ttfb = [(x["t_headers"] - x["t_sent"]) * 1000 for x in streams if x["t_headers"]]
    tts = [(x["t_start"] - x["t_sent"]) * 1000 for x in streams if x["t_start"]]
    errors = server_failures(streams)
    return {
        "requests": len(streams),
        "errors": errors,
        "error_count": sum(errors.values()),
        "start_ms": {"p50": pct(tts, 50), "p95": pct(tts, 95), "max": max(tts, default=None)},
        "ttfb_ms": {"p50": pct(ttfb, 50), "p95": pct(ttfb, 95), "max": max(ttfb, default=None)},
        # The whole request: open, chunks, save (the process's CPU, all threads).
        "server_cpu_ms_per_stream": cpu * 1000 / len(streams) if streams else None,
    }


def scenario_c(h: Harness, cs: Server, bl: Server) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, server in (("chatstream", cs), ("baseline", bl)):
        r = run_c_once(h, server)
        out[name] = r
        log(
            f"  c {name:10s}: start event p50 {fmt(r['start_ms']['p50'], '.2f')} ms, "
            f"p95 {fmt(r['start_ms']['p95'], '.2f')} ms; first byte p50 "
            f"{fmt(r['ttfb_ms']['p50'], '.2f')} ms; server CPU "
            f"{fmt(r['server_cpu_ms_per_stream'], '.2f')} ms/stream; errors {r['error_count']}"
        )
    cs_r, bl_r = out["chatstream"], out["baseline"]
    out["chunks_per_stream"] = h.sizes.c_chunks
    out["median_ratio"] = ratio(cs_r["start_ms"]["p50"], bl_r["start_ms"]["p50"])
    median = cs_r["start_ms"]["p50"]
    out["met"] = bool(
        median is not None and median <= TARGETS["c_median_ms"] and cs_r["error_count"] == 0
    )
    return out


# Scenario d: memory per open stream, leak check -------------------------------------------------


def run_d(h: Harness, server: Server, rounds: int) -> dict[str, Any]:
    s = h.sizes
    time.sleep(1.0)
    idle = server.snapshot()
    done: list[dict[str, Any]] = []
    for _ in range(rounds):
        held: dict[str, Any] = {}

        def measure_open(held: dict[str, Any] = held) -> None:
            time.sleep(0.5)
            held["t"] = time.monotonic()
            samples = []
            for _ in range(3):
                samples.append(server.rss_kb())
                time.sleep(0.3)
            held["rss_kb"] = statistics.median(samples)
            held["tasks"] = server.tasks()
            held["fds"] = server.fds()
            held["sockets"] = server.sockets()
            held["threads"] = server.threads()

        run = run_clients(
            h.workdir,
            server.port,
            h.paths(s.d_streams),
            s.d_clients,
            {
                "mode": "streams",
                "ramp_s": s.d_ramp_s,
                "expected_chunks": s.d_chunks,
                "announce_started": True,
                "deadline_s": s.d_ramp_s + s.d_chunks * s.d_interval_s * 3 + 60,
            },
            on_all_started=measure_open,
        )
        streams = run.streams
        time.sleep(D_BUFFER_TTL_S + 2.0)  # ChatStream keeps a finished buffer this long
        after = server.snapshot()
        at = held.get("t", 0.0)
        open_then = sum(
            1
            for x in streams
            if x["t_start"] and x["t_start"] <= at and (x["t_end"] or float("inf")) > at
        )
        errors = server_failures(streams)
        kb = None
        if held.get("rss_kb") is not None and open_then:
            kb = (held["rss_kb"] - idle["rss_kb"]) / open_then
        done.append(
            {
                "open": held,
                "open_streams_when_measured": open_then,
                "kb_per_stream": kb,
                "after": after,
                "completed": sum(1 for x in streams if x["complete"] and not x["error"]),
                "errors": errors,
            }
        )
    last: dict[str, Any] = done[-1]["after"]
    return {
        "streams": s.d_streams,
        "idle": idle,
        "rounds": done,
        "kb_per_stream": done[0]["kb_per_stream"],
        "open_streams_when_measured": done[0]["open_streams_when_measured"],
        "tasks_after_minus_idle": (
            last["tasks"] - idle["tasks"]
            if last["tasks"] is not None and idle["tasks"] is not None
            else None
        ),
        "sockets_after_minus_idle": last["sockets"] - idle["sockets"],
        "fds_after_minus_idle": last["fds"] - idle["fds"],
        "rss_after_minus_idle_kb": last["rss_kb"] - idle["rss_kb"],
        "rss_growth_between_rounds_kb": (
            last["rss_kb"] - done[0]["after"]["rss_kb"] if len(done) > 1 else None
        ),
    }


def scenario_d(h: Harness, cs: Server, bl: Server) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # ChatStream twice (the second round shows growth that is not warm-up); the baseline once.
    for name, server, rounds in (("chatstream", cs, h.sizes.d_rounds), ("baseline", bl, 1)):
        r = run_d(h, server, rounds)
        out[name] = r
        first = r["rounds"][0]
        log(
            f"  d {name:10s}: idle {r['idle']['rss_kb'] / 1024:.1f} MB, "
            f"{first['open_streams_when_measured']} open "
            f"{(first['open'].get('rss_kb') or 0) / 1024:.1f} MB -> "
            f"{fmt(r['kb_per_stream'])} KB/stream; tasks idle/open/after "
            f"{r['idle']['tasks']}/{first['open'].get('tasks')}/"
            f"{r['rounds'][-1]['after']['tasks']}; "
            f"RSS after - idle {r['rss_after_minus_idle_kb'] / 1024:.1f} MB"
        )
        for i, rnd in enumerate(r["rounds"]):
            if rnd["errors"]:
                log(f"    round {i + 1} errors: {rnd['errors']}")
    out["ratio"] = ratio(out["chatstream"]["kb_per_stream"], out["baseline"]["kb_per_stream"])
    cs_r = out["chatstream"]
    tasks_delta = cs_r["tasks_after_minus_idle"]
    out["leak_check"] = {
        "tasks_back_to_idle": tasks_delta is not None and tasks_delta <= 2,
        "sockets_back_to_idle": cs_r["sockets_after_minus_idle"] <= 2,
        "rss_growth_between_rounds_kb": cs_r["rss_growth_between_rounds_kb"],
    }
    kb = cs_r["kb_per_stream"]
    out["all_open"] = cs_r["open_streams_when_measured"] == cs_r["streams"]
    out["met"] = bool(kb is not None and kb <= TARGETS["d_kb_per_stream"])
    return out


# Report ------------------------------------------------------------------------------------


def fmt(value: Any, spec: str = ".1f", unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:{spec}}{unit}"


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, ...]] = []

    def row(
        metric: str, cs: str = "", bl: str = "", r: str = "", target: str = "", met: str = ""
    ) -> None:
        rows.append((metric, cs, bl, r, target, met))

    def pair(a: Any, b: Any, spec: str = ".1f") -> tuple[str, str]:
        return fmt(a, spec), fmt(b, spec)

    a = results.get("a")
    if a:
        cs, bl = a["chatstream"], a["baseline"]
        row(
            f"(a) events/s, {a['streams']} streams x {a['chunks_per_stream']} chunks "
            f"(median of {a['reps']})",
            *pair(cs["events_per_s"], bl["events_per_s"], ",.0f"),
            fmt(a["ratio"], ".2f"),
            ">= 0.50",
            fmt(a["met"]),
        )
        row(
            "    events per server CPU-second",
            *pair(cs["events_per_server_cpu_s"], bl["events_per_server_cpu_s"], ",.0f"),
            fmt(a["cpu_efficiency_ratio"], ".2f"),
        )
        row(
            "    server CPU / client CPU (of one core)",
            f"{fmt(cs['server_cpu_util'], '.0%')} / {fmt(cs['client_cpu_util'], '.0%')}",
            f"{fmt(bl['server_cpu_util'], '.0%')} / {fmt(bl['client_cpu_util'], '.0%')}",
        )
        row(
            "    errors / incomplete streams",
            f"{cs['errors']} / {cs['incomplete']}",
            f"{bl['errors']} / {bl['incomplete']}",
        )
    b = results.get("b")
    if b:
        cs, bl = b["chatstream"], b["baseline"]
        row(
            f"(b) {cs['streams']} streams x {b['chunks_per_stream']} chunks @ "
            f"{1 / b['interval_s']:.0f}/s, opened over {b['ramp_s']:g} s: complete",
            f"{cs['completed']}/{cs['streams']}",
            f"{bl['completed']}/{bl['streams']}",
            "",
            "all",
            fmt(b["all_complete"]),
        )
        row(
            "    errors",
            str(cs["error_count"]),
            str(bl["error_count"]),
            "",
            "0",
            fmt(b["zero_errors"]),
        )
        row(
            "    peak concurrent streams",
            str(cs["peak_concurrent_streams"]),
            str(bl["peak_concurrent_streams"]),
        )
        for q in ("p50", "p95"):
            row(
                f"    delivery delay {q} (ms)",
                *pair(cs["delay_ms"][q], bl["delay_ms"][q]),
                fmt(ratio(cs["delay_ms"][q], bl["delay_ms"][q]), ".2f"),
            )
        row(
            "    delivery delay p99 (ms)",
            *pair(cs["delay_ms"]["p99"], bl["delay_ms"]["p99"]),
            fmt(b["p99_ratio"], ".2f"),
            "<= 2.00",
            fmt(b["p99_met"]),
        )
        row(
            "    chunk-to-chunk lateness p99 (ms, no drift)",
            *pair(cs["gap_lateness_ms"]["p99"], bl["gap_lateness_ms"]["p99"]),
            fmt(b["gap_p99_ratio"], ".2f"),
        )
        row(
            "    p99 counted from request sent (ms)",
            *pair(cs["e2e_delay_ms"]["p99"], bl["e2e_delay_ms"]["p99"]),
            fmt(b["e2e_p99_ratio"], ".2f"),
        )
        row(
            "    request -> start p50 / p99 (ms)",
            f"{fmt(cs['open_ms']['p50'])} / {fmt(cs['open_ms']['p99'])}",
            f"{fmt(bl['open_ms']['p50'])} / {fmt(bl['open_ms']['p99'])}",
        )
        row("    streams opened per second", *pair(cs["opens_per_s"], bl["opens_per_s"], ".0f"))
        row(
            "    server CPU / client CPU",
            f"{fmt(cs['server_cpu_util'], '.0%')} / {fmt(cs['client_cpu_util'], '.0%')}",
            f"{fmt(bl['server_cpu_util'], '.0%')} / {fmt(bl['client_cpu_util'], '.0%')}",
        )
        row(
            "    collector pauses: total / longest (ms)",
            collector_summary(cs.get("gc")),
            collector_summary(bl.get("gc")),
        )
        row("    (met: all complete, zero errors and p99)", "", "", "", "", fmt(b["met"]))
    c = results.get("c")
    if c:
        cs, bl = c["chatstream"], c["baseline"]
        row(
            f"(c) request -> start event, median ms ({cs['requests']} sequential)",
            *pair(cs["start_ms"]["p50"], bl["start_ms"]["p50"], ".2f"),
            fmt(c["median_ratio"], ".1f"),
            "<= 15 ms",
            fmt(c["met"]),
        )
        row(
            "    request -> start event, p95 ms",
            *pair(cs["start_ms"]["p95"], bl["start_ms"]["p95"], ".2f"),
        )
        row(
            "    request -> first byte (headers), median ms",
            *pair(cs["ttfb_ms"]["p50"], bl["ttfb_ms"]["p50"], ".2f"),
        )
        row(
            f"    server CPU per stream ({c['chunks_per_stream']} chunks), ms",
            *pair(cs["server_cpu_ms_per_stream"], bl["server_cpu_ms_per_stream"], ".2f"),
            fmt(ratio(cs["server_cpu_ms_per_stream"], bl["server_cpu_ms_per_stream"]), ".0f"),
        )
    d = results.get("d")
    if d:
        cs, bl = d["chatstream"], d["baseline"]
        row(
            "(d) memory per open stream, KB "
            f"({cs['open_streams_when_measured']} / {bl['open_streams_when_measured']} open)",
            *pair(cs["kb_per_stream"], bl["kb_per_stream"]),
            fmt(d["ratio"], ".1f"),
            "<= 100 KB",
            fmt(d["met"]),
        )

        def trio(r: dict[str, Any], key: str) -> str:
            return (
                f"{r['idle'][key]} / {r['rounds'][0]['open'].get(key)} / "
                f"{r['rounds'][-1]['after'][key]}"
            )

        row(
            "    asyncio tasks idle / open / after",
            trio(cs, "tasks"),
            trio(bl, "tasks"),
            "",
            "back to idle",
            fmt(d["leak_check"]["tasks_back_to_idle"]),
        )
        row(
            "    sockets idle / open / after",
            trio(cs, "sockets"),
            trio(bl, "sockets"),
            "",
            "back to idle",
            fmt(d["leak_check"]["sockets_back_to_idle"]),
        )
        row(
            "    RSS after the streams end - idle (MB)",
            *pair(cs["rss_after_minus_idle_kb"] / 1024, bl["rss_after_minus_idle_kb"] / 1024),
        )
        if cs["rss_growth_between_rounds_kb"] is not None:
            row(
                f"    RSS growth, round 1 -> round {len(cs['rounds'])} after (MB)",
                fmt(cs["rss_growth_between_rounds_kb"] / 1024),
            )
    header = ("metric", "ChatStream", "baseline", "ratio", "target", "met?")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(6)]
    lines = []
    for i, cells in enumerate([header, *rows]):
        lines.append(
            "  ".join(
                cell.ljust(widths[j]) if j == 0 else cell.rjust(widths[j])
                for j, cell in enumerate(cells)
            ).rstrip()
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# Main --------------------------------------------------------------------------------------


def warm_pair(h: Harness, servers: tuple[Server, Server], chunks: int, interval_s: float) -> None:
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda srv: warm_up(h, srv, chunks, interval_s), servers))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, < 1 min")
    parser.add_argument("--scenario", default="a,b,c,d", help="subset of a,b,c,d (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON result goes")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (logs, DB)")
    parser.add_argument("--b-ramp", type=float, help="(b): open the streams over this many s")
    parser.add_argument("--b-streams", type=int, help="(b): number of paced streams")
    args = parser.parse_args()
    scenarios = {x.strip() for x in args.scenario.split(",") if x.strip()}
    unknown = scenarios - {"a", "b", "c", "d"}
    if unknown or not scenarios:
        parser.error(f"unknown scenario(s): {sorted(unknown)}; use a subset of a,b,c,d")
    sizes = QUICK if args.quick else FULL
    if args.b_ramp is not None:
        sizes = replace(sizes, b_ramp_s=args.b_ramp)
    if args.b_streams is not None:
        sizes = replace(sizes, b_streams=args.b_streams)
    if not (Path(PY).parent / "chatstream").exists():
        log(f"note: {PY} is not the backend venv's Python; use `make bench`")

    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="chatstream-bench-"))
    results: dict[str, Any] = {}
    meta: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "scenarios": sorted(scenarios),
        "sizes": asdict(sizes),
        "targets": TARGETS,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_at_start": os.getloadavg(),
        },
        "note": (
            "Servers and client processes share this machine's CPUs; ratios are against the "
            "baseline measured in the same run."
        ),
    }
    log(
        f"ChatStream streaming benchmark ({'quick' if args.quick else 'full'}), scenarios "
        f"{','.join(sorted(scenarios))}; {os.cpu_count()} CPUs shared by servers and clients; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    h = Harness(sizes, workdir)
    ok = True
    groups: dict[str, tuple[Server, Server]] = {}
    background: ThreadPoolExecutor | None = None
    try:
        h.prepare()
        # One ChatStream and one baseline per scenario (the scripted model's pace and length are
        # process settings), all started together; each pair is stopped once its scenario ran.
        if "a" in scenarios:
            groups["a"] = (h.chatstream(sizes.a_chunks, 0.0), h.baseline(sizes.a_chunks, 0.0))
        if "c" in scenarios:
            if sizes.c_chunks == sizes.a_chunks and "a" in groups:
                groups["c"] = groups["a"]  # --quick: one pair of servers fewer to start
            else:
                groups["c"] = (
                    h.chatstream(sizes.c_chunks, 0.0),
                    h.baseline(sizes.c_chunks, 0.0),
                )
        if "b" in scenarios:
            groups["b"] = (
                h.chatstream(sizes.b_chunks, sizes.b_interval_s),
                h.baseline(sizes.b_chunks, sizes.b_interval_s),
            )
        if "d" in scenarios:
            groups["d"] = (
                h.chatstream(
                    sizes.d_chunks, sizes.d_interval_s, STREAM_BUFFER_TTL_S=str(D_BUFFER_TTL_S)
                ),
                h.baseline(sizes.d_chunks, sizes.d_interval_s),
            )
        everything = list(dict.fromkeys(server for pair in groups.values() for server in pair))
        start_all(everything)
        first = next(iter(groups.values()))[0]
        h.create_users(first)
        log(f"{len(everything)} servers up; {len(h.tokens)} users created")
        # The paced scenarios' warm-up streams last as long as theirs do, but cost almost no
        # CPU: run them in the background now rather than waiting for them later.
        background = ThreadPoolExecutor(2)
        warming = {
            name: background.submit(warm_pair, h, groups[name], chunks, interval)
            for name, chunks, interval in (
                ("b", sizes.b_chunks, sizes.b_interval_s),
                ("d", sizes.d_chunks, sizes.d_interval_s),
            )
            if name in groups
        }
        order = [name for name in ("c", "a", "b", "d") if name in groups]
        for index, name in enumerate(order):
            cs, bl = groups[name]
            if name == "c":
                warm_pair(h, (cs, bl), sizes.c_chunks, 0.0)
                log(f"(c) time to the start event, {sizes.c_requests} sequential requests")
                results["c"] = scenario_c(h, cs, bl)
            elif name == "a":
                warm_pair(h, (cs, bl), sizes.a_chunks, 0.0)
                log(f"(a) throughput: {sizes.a_streams} streams x {sizes.a_chunks} chunks")
                results["a"] = scenario_a(h, cs, bl)
            elif name == "b":
                warming["b"].result(timeout=600)
                log(
                    f"(b) {sizes.b_streams} streams x {sizes.b_chunks} chunks at "
                    f"{1 / sizes.b_interval_s:g}/s, opened over {sizes.b_ramp_s:g} s"
                )
                results["b"] = scenario_b(h, cs, bl)
            else:
                warming["d"].result(timeout=600)
                log(
                    f"(d) {sizes.d_streams} slow streams ({sizes.d_chunks} chunks, one per "
                    f"{sizes.d_interval_s:g} s), opened over {sizes.d_ramp_s:g} s"
                )
                results["d"] = scenario_d(h, cs, bl)
            if all(groups[later] != (cs, bl) for later in order[index + 1 :]):
                stop_all([cs, bl])
    except Exception as exc:  # report what we have; the benchmark itself broke
        ok = False
        log(f"benchmark failed: {type(exc).__name__}: {exc}")
        meta["failure"] = f"{type(exc).__name__}: {exc}"
    finally:
        stop_all(list(dict.fromkeys(server for pair in groups.values() for server in pair)))
        if background is not None:
            background.shutdown(wait=True, cancel_futures=True)
        if args.keep_temp:
            log(f"temp dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    meta["duration_s"] = time.monotonic() - began
    meta["loadavg_at_end"] = os.getloadavg()
    document = {"meta": meta, "results": results}
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out_path = args.out / f"{stamp}{'-quick' if args.quick else ''}.json"
    out_path.write_text(json.dumps(rounded(document, 3), indent=2) + "\n")
    shown = out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path
    report = [
        "",
        table(results),
        "",
        f"{os.cpu_count()} CPUs shared by both servers and the client processes (127.0.0.1 only); "
        "ratios compare with the baseline measured in this run.",
        f"Load average {meta['machine']['loadavg_at_start'][0]:.2f} at start, "
        f"{meta['loadavg_at_end'][0]:.2f} at end. Took {meta['duration_s']:.0f} s. JSON: {shown}",
    ]
    sys.stdout.write("\n".join(report) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
