"""A SIGUSR1 probe for a benchmarked server process: on the signal, write its asyncio task count.

Installed before the server starts (ChatStream through `chatstream_serve.py`, the baseline in
`baseline_server.py`); it adds no route, thread or timer, so the server under test is unchanged
until the benchmark asks. The handler runs on the main thread, which is the event loop's thread.

It also keeps the garbage collector's pauses (count, total and longest per generation, from
`gc.callbacks`): a paced stream is late by every pause of the event loop, and a full collection
walks every object the process holds.

With BENCH_PROBE_STACKS=1 it also counts where the tasks are waiting (the innermost frame of
each task's coroutine chain): a diagnostic for "what are 1,000 streams blocked on".
"""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import os
import signal
import threading
import time
from types import FrameType
from typing import Any


def _waiting_at(task: asyncio.Task[Any]) -> str:
    coro: Any = task.get_coro()
    where = "?"
    for _ in range(100):  # bounded walk down the await chain
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            code = frame.f_code
            where = f"{code.co_qualname} ({os.path.basename(code.co_filename)}:{frame.f_lineno})"
        nxt = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
        if nxt is None:
            break
        coro = nxt
    return where


def install(path: str | None) -> None:
    if not path:
        return
    stacks = os.environ.get("BENCH_PROBE_STACKS") == "1"
    # Per generation: [collections, total pause s, longest pause s].
    pauses: dict[int, list[float]] = {
        0: [0, 0.0, 0.0],
        1: [0, 0.0, 0.0],
        2: [0, 0.0, 0.0],
    }
    started_at = [0.0]

    def on_collect(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started_at[0] = time.perf_counter()
            return
        pause = time.perf_counter() - started_at[0]
        entry = pauses[info["generation"]]
        entry[0] += 1
        entry[1] += pause
        entry[2] = max(entry[2], pause)

    gc.callbacks.append(on_collect)

    def snapshot(signum: int, frame: FrameType | None) -> None:
        data: dict[str, Any] = {
            "threads": threading.active_count(),
            "t": time.monotonic(),
            "gc": {str(gen): list(entry) for gen, entry in pauses.items()},
        }
        try:
            tasks = asyncio.all_tasks(asyncio.get_running_loop())
            data["tasks"] = len(tasks)
            if stacks:
                where = collections.Counter(_waiting_at(t) for t in tasks)
                data["waiting"] = where.most_common(20)
        except RuntimeError:
            data["tasks"] = None
        tmp = f"{path}.tmp"
        with open(tmp, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)

    signal.signal(signal.SIGUSR1, snapshot)
