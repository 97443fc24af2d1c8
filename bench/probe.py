"""A SIGUSR1 probe for a benchmarked server process: on the signal, write its asyncio task count.

Installed before the server starts (ChatStream through `chatstream_serve.py`, the baseline in
`baseline_server.py`); it adds no route, thread or timer, so the server under test is unchanged
until the benchmark asks. The handler runs on the main thread, which is the event loop's thread.

It also keeps the garbage collector's pauses (count, total and longest per generation, from
`gc.callbacks`): a paced stream is late by every pause of the event loop, and a full collection
walks every object the process holds.

With BENCH_PROBE_STACKS=1 it also counts where the tasks are waiting (the innermost frame of
each task's coroutine chain): a diagnostic for "what are 1,000 streams blocked on".

With BENCH_PROBE_CENSUS=1 it also counts the objects the collector tracks outside the permanent
generation, by type, and the coroutines, functions, cells and bound methods among them by the
code they belong to: what every young collection walks while streams are open.
BENCH_PROBE_CENSUS_GENERATION=0 counts the young generation alone.
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


def _census(top: int = 40) -> dict[str, Any]:
    """Tracked objects by type, and by owning code for the kinds a stream keeps alive."""
    by_type: collections.Counter[str] = collections.Counter()
    by_code: collections.Counter[str] = collections.Counter()
    generation = os.environ.get("BENCH_PROBE_CENSUS_GENERATION")
    objects = (
        gc.get_objects() if generation is None else gc.get_objects(int(generation))
    )
    for obj in objects:
        kind = type(obj).__name__
        by_type[kind] += 1
        owner = None
        if kind in ("coroutine", "async_generator", "generator"):
            frame = getattr(obj, "cr_frame", None) or getattr(obj, "ag_frame", None)
            frame = frame or getattr(obj, "gi_frame", None)
            owner = frame.f_code.co_qualname if frame is not None else obj.__qualname__
        elif kind == "function":
            owner = obj.__qualname__
        elif kind == "method":
            owner = getattr(obj.__func__, "__qualname__", "?")
        elif kind == "cell":
            try:
                owner = type(obj.cell_contents).__name__
            except ValueError:
                owner = "(empty)"
        if owner is not None:
            by_code[f"{kind} {owner}"] += 1
    return {
        "tracked": sum(by_type.values()),
        "frozen": gc.get_freeze_count(),
        "by_type": by_type.most_common(top),
        "by_code": by_code.most_common(top * 2),
    }


def install(path: str | None) -> None:
    if not path:
        return
    stacks = os.environ.get("BENCH_PROBE_STACKS") == "1"
    census = os.environ.get("BENCH_PROBE_CENSUS") == "1"
    # With BENCH_PROBE_GC_LOG=1, the last 5,000 collections one by one: when, which generation,
    # how long, what it freed, the counts it started from and on which thread it ran.
    collections_log: collections.deque[list[Any]] | None = (
        collections.deque(maxlen=5000)
        if os.environ.get("BENCH_PROBE_GC_LOG") == "1"
        else None
    )
    counts_at_start: list[Any] = [None]
    # Per generation: [collections, total pause s, longest pause s].
    pauses: dict[int, list[float]] = {
        0: [0, 0.0, 0.0],
        1: [0, 0.0, 0.0],
        2: [0, 0.0, 0.0],
    }
    started_at = [0.0]

    def on_collect(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            if collections_log is not None:
                counts_at_start[0] = gc.get_count()
            started_at[0] = time.perf_counter()
            return
        pause = time.perf_counter() - started_at[0]
        if collections_log is not None:
            collections_log.append(
                [
                    round(time.monotonic(), 4),
                    info["generation"],
                    round(pause * 1000, 3),
                    info["collected"],
                    counts_at_start[0],
                    threading.current_thread().name,
                ]
            )
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
        if census:
            data["census"] = _census()
        if collections_log is not None:
            data["collections"] = list(collections_log)
        tmp = f"{path}.tmp"
        with open(tmp, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)

    signal.signal(signal.SIGUSR1, snapshot)
