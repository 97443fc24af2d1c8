"""Client processes: the streams spread over sse_client.py processes, their results collected."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import BENCH, HOST, PY, log


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
