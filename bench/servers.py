"""Server subprocesses: start and stop them, and read their CPU, memory, sockets and probe."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import HOST

CLK_TCK = os.sysconf("SC_CLK_TCK")


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

    def pids(self) -> list[int]:
        """The server's process and its descendants (`serve --workers N` runs N children)."""
        found: list[int] = []
        todo = [self.pid]
        while todo and len(found) < 64:
            pid = todo.pop()
            found.append(pid)
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{pid}/children") as fh:
                todo.extend(int(child) for child in fh.read().split())
        return found

    def sockets(self) -> int:
        """Open sockets (listening socket and connections), not the database's files; summed
        over the server's processes."""
        count = 0
        for pid in self.pids():
            base = f"/proc/{pid}/fd"
            with contextlib.suppress(OSError):
                for name in os.listdir(base):
                    with contextlib.suppress(OSError):
                        if os.readlink(f"{base}/{name}").startswith("socket:"):
                            count += 1
        return count

    def connections(self) -> int:
        """Open client connections to the server's port (from /proc/net/tcp: neither listening
        nor in TIME_WAIT), whichever of its processes holds them; not its database or Redis
        connections."""
        port = f":{self.port:04X}"
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError), open(table) as fh:
                next(fh, None)
                for line in fh:
                    fields = line.split()
                    if fields[1].endswith(port) and fields[3] not in ("0A", "06"):
                        count += 1
        return count

    def cpu_s(self) -> float:
        """utime + stime of every thread, summed over the server's processes (live ones)."""
        return sum(self.cpu_split_s())

    def cpu_split_s(self) -> tuple[float, float]:
        """(utime, stime) of every thread, summed over the server's processes: our code's CPU
        and the kernel's on its behalf (system calls: the network, the database's writes)."""
        user = system = 0
        for pid in self.pids():
            with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as fh:
                parts = fh.read().rsplit(")", 1)[1].split()
                user += int(parts[11])
                system += int(parts[12])
        return user / CLK_TCK, system / CLK_TCK

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

    def metrics(self, timeout_s: float = 10.0) -> dict[str, float]:
        """The server's /metrics, as {sample with its labels: value}, e.g.
        `chatstream_stream_log_lag_seconds_bucket{le="0.005"}`."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout_s)
        try:
            conn.request("GET", "/metrics")
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"{self.name}: /metrics answered {response.status}")
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

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


def start_all(servers: list[Server]) -> None:
    """Start the servers side by side (ChatStream's imports take seconds of CPU each)."""
    with ThreadPoolExecutor(max(1, len(servers))) as pool:
        for future in [pool.submit(server.start) for server in servers]:
            future.result()


def stop_all(servers: list[Server]) -> None:
    with ThreadPoolExecutor(max(1, len(servers))) as pool:
        list(pool.map(lambda server: server.stop(), servers))
