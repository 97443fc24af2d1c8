"""Scenario (g), capacity at a latency bound: the most paced streams each server carries.

A server carries N streams (20 chunks/s) when a probe of N streams ends with every stream
complete, zero errors, p99 delivery delay <= G_P99_BOUND_MS, and at least G_PEAK_SHARE x N of
them open at once. The search doubles N from `g_start_streams` while probes pass, then bisects
between the last pass and the first failure until the gap is within `g_resolution` of the pass.
A failed probe is repeated once before it counts: other work on the machine only adds delay.
Each server has a probe limit and a wall-clock budget. The two servers' probes alternate, so
that both searches see the same machine, more or less. A figure at saturation measures the
machine as much as the server, which is why only the ratio has a target.

Scenario (h) runs the same search for ChatStream with REDIS_URL: `serve --workers 2` against one
process.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

from common import log
from harness import Harness
from machine import Watch, describe
from redis_store import BenchRedis
from servers import Server
from sizes import G_P99_BOUND_MS, G_PEAK_SHARE, TARGETS, Sizes
from stats import fmt, ratio

from scenarios.b_paced import run_paced

SETTLE_MAX_S = 20.0  # wait at most this long for a server's streams to end and be saved
SETTLE_PAUSE_S = 1.0  # then this long more, for the machine
STREAMS_PER_CLIENT = 750  # client processes: one per this many streams
MIN_STREAMS = 10  # below this a probe says nothing


def ramp_for(sizes: Sizes, streams: int) -> float:
    """How long a probe of `streams` takes to open them: at g_open_per_s, at most g_ramp_max_s
    (well under a stream's length, so that every stream is open at once)."""
    return min(sizes.g_ramp_max_s, streams / sizes.g_open_per_s)


@dataclass
class Search:
    """One server's search: the probes so far and what to probe next."""

    name: str
    server: Server
    sizes: Sizes
    next_streams: int | None
    passed: int | None = None  # the most streams a probe carried
    failed: int | None = None  # the fewest streams a probe did not carry
    repeating: int | None = None  # a size that failed once, probed again
    probes: list[dict[str, Any]] = field(default_factory=list)
    spent_s: float = 0.0
    stopped: str = ""

    def estimate_s(self, streams: int) -> float:
        s = self.sizes
        return ramp_for(s, streams) + s.g_chunks * s.g_interval_s + SETTLE_PAUSE_S + 3.0

    def due(self) -> int | None:
        """The next probe's size, or None once the search is over (and why, in `stopped`)."""
        n = self.next_streams
        if n is None:
            return None
        if len(self.probes) >= self.sizes.g_max_probes:
            self.stopped = f"probe limit ({self.sizes.g_max_probes})"
        elif self.probes and self.spent_s + self.estimate_s(n) > self.sizes.g_budget_s:
            self.stopped = f"time budget ({self.sizes.g_budget_s:g} s)"
        else:
            return n
        self.next_streams = None
        return None

    def record(self, streams: int, carried: bool, took_s: float) -> None:
        self.spent_s += took_s
        if not carried and self.repeating != streams:
            # Other work on the machine only ever adds delay, so a size fails once a second
            # probe of it fails too, and is carried if either probe carried it.
            self.repeating = self.next_streams = streams
            return
        self.repeating = None
        if carried:
            self.passed = max(self.passed or 0, streams)
        else:
            self.failed = min(self.failed or streams, streams)
        if self.failed is None:
            self.next_streams = streams * 2
        elif self.passed is None or self.passed >= self.failed:
            half = self.failed // 2
            self.next_streams = half if half >= MIN_STREAMS else None
            if self.next_streams is None:
                self.stopped = f"{self.failed} streams were not carried"
        elif self.failed - self.passed <= max(1, self.sizes.g_resolution * self.passed):
            self.next_streams = None
            self.stopped = f"resolution ({self.sizes.g_resolution:.0%})"
        else:
            self.next_streams = (self.passed + self.failed) // 2


def probe(
    h: Harness, server: Server, streams: int, store: BenchRedis | None = None
) -> dict[str, Any]:
    """One probe of `streams`; with `store`, the Redis server's CPU meanwhile too."""
    s = h.sizes
    ramp = ramp_for(s, streams)
    redis_cpu0 = store.cpu_s() if store is not None else None
    with Watch() as machine:
        r = run_paced(
            h,
            server,
            streams=streams,
            chunks=s.g_chunks,
            interval_s=s.g_interval_s,
            ramp_s=ramp,
            clients=min(3, math.ceil(streams / STREAMS_PER_CLIENT)),
        )
    redis_cpu1 = store.cpu_s() if store is not None else None
    redis_cpu_util = (
        (redis_cpu1 - redis_cpu0) / r["elapsed_s"]
        if redis_cpu0 is not None and redis_cpu1 is not None and r["elapsed_s"] > 0
        else None
    )
    p99 = r["delay_ms"]["p99"]
    why = []
    if r["completed"] < streams:
        why.append(f"{streams - r['completed']} incomplete")
    if r["error_count"]:
        why.append(f"{r['error_count']} errors")
    if p99 is None or p99 > G_P99_BOUND_MS:
        why.append(f"p99 {fmt(p99, '.0f')} ms > {G_P99_BOUND_MS:.0f}")
    if r["peak_concurrent_streams"] < G_PEAK_SHARE * streams:
        why.append(f"peak {r['peak_concurrent_streams']} open < {G_PEAK_SHARE:.0%}")
    return {
        "streams": streams,
        "ramp_s": ramp,
        "carried": not why,
        "why_not": why,
        "completed": r["completed"],
        "error_count": r["error_count"],
        "errors": r["errors"],
        "peak_concurrent_streams": r["peak_concurrent_streams"],
        "delay_ms": r["delay_ms"],
        "gap_lateness_ms": r["gap_lateness_ms"],
        "open_ms": r["open_ms"],
        "opens_per_s": r["opens_per_s"],
        "server_cpu_util": r["server_cpu_util"],
        "client_cpu_util": r["client_cpu_util"],
        "redis_cpu_util": redis_cpu_util,  # the whole Redis server's, of one core
        "events_per_server_cpu_s": r["events_per_server_cpu_s"],
        "gc": r["gc"],
        "machine": machine.state,
    }


def settle(server: Server, idle: dict[str, Any]) -> dict[str, Any]:
    """Wait until the clients' connections are closed and the server's tasks back to idle
    (streams ended, answers saved), then a moment more."""
    began = time.monotonic()
    settled = False
    while time.monotonic() - began < SETTLE_MAX_S:
        if server.connections() == 0:
            # The probe answers for the first process only: with workers, connections must do.
            tasks = server.tasks() if len(server.pids()) == 1 else None
            if tasks is None or idle["tasks"] is None or tasks <= idle["tasks"] + 2:
                settled = True
                break
        time.sleep(0.25)
    waited = time.monotonic() - began
    time.sleep(SETTLE_PAUSE_S)
    return {"settled": settled, "waited_s": waited}


def search_capacities(
    h: Harness, letter: str, servers: dict[str, Server], store: BenchRedis | None = None
) -> dict[str, Any]:
    """Each server's capacity, the servers' probes alternating (who goes first too); with
    `store`, each probe also measures the Redis server's CPU."""
    s = h.sizes
    searches = [Search(name, server, s, s.g_start_streams) for name, server in servers.items()]
    idle = {search.name: search.server.snapshot() for search in searches}
    width = max(len(name) for name in servers)
    for step in range(len(searches) * s.g_max_probes):
        ran = False
        first = step % len(searches)
        for search in searches[first:] + searches[:first]:
            streams = search.due()
            if streams is None:
                continue
            ran = True
            began = time.monotonic()
            result = probe(h, search.server, streams, store)
            result["repeat"] = search.repeating == streams
            result["settle"] = settle(search.server, idle[search.name])
            search.probes.append(result)
            search.record(streams, result["carried"], time.monotonic() - began)
            d = result["delay_ms"]
            verdict = (
                "carried" if result["carried"] else f"NOT carried ({', '.join(result['why_not'])})"
            )
            log(
                f"  {letter} {search.name:{width}s} {streams:5d} streams: {verdict}; "
                f"{result['completed']}/{streams} complete, "
                f"peak {result['peak_concurrent_streams']} open; "
                f"delay p50 {fmt(d['p50'])} p99 {fmt(d['p99'])} ms; "
                f"CPU: server {cpu_split(result)}; {describe(result['machine'])}"
            )
        if not ran:
            break
    out: dict[str, Any] = {
        "chunks_per_stream": s.g_chunks,
        "interval_s": s.g_interval_s,
        "p99_bound_ms": G_P99_BOUND_MS,
        "peak_share": G_PEAK_SHARE,
        "open_per_s": s.g_open_per_s,
        "ramp_max_s": s.g_ramp_max_s,
    }
    for search in searches:
        search.due()  # records why the search stopped, if it stopped on a limit
        at_capacity = next(
            (p for p in reversed(search.probes) if p["carried"] and p["streams"] == search.passed),
            None,
        )
        out[search.name] = {
            "capacity": search.passed or 0,
            "server_cpu_util_at_capacity": at_capacity and at_capacity["server_cpu_util"],
            "machine_cpu_at_capacity": at_capacity and machine_cpu(at_capacity),
            # No probe failed: the search stopped on a limit first, so the capacity is at least
            # this (and the ratio against it is only as good).
            "capacity_is_lower_bound": search.failed is None,
            "first_failure": search.failed,
            "stopped_by": search.stopped or "?",
            "search_s": search.spent_s,
            "probes": search.probes,
        }
        log(
            f"  {letter} {search.name:{width}s}: capacity {search.passed or 0} streams "
            f"(first failure {fmt(search.failed, 'd')}; stopped by {search.stopped}; "
            f"{len(search.probes)} probes, {search.spent_s:.0f} s)"
        )
    return out


def cpu_split(p: dict[str, Any]) -> str:
    """A probe's CPU, of one core: the server's, its clients', Redis's if measured."""
    text = f"{p['server_cpu_util']:.0%}, clients {p['client_cpu_util']:.0%}"
    if p.get("redis_cpu_util") is not None:
        text += f", Redis {p['redis_cpu_util']:.0%}"
    return text


def machine_cpu(p: dict[str, Any]) -> dict[str, Any]:
    """What a probe took of the machine, in cores: the server, its clients, Redis if measured,
    in all, and the machine's cores. All of them share those cores: a server that stops at the
    latency bound with the machine nearly full is held back by the machine, not by itself."""
    parts = {"server": p["server_cpu_util"], "clients": p["client_cpu_util"]}
    if p.get("redis_cpu_util") is not None:
        parts["redis"] = p["redis_cpu_util"]
    return {**parts, "cores": sum(parts.values()), "machine_cores": os.cpu_count() or 1}


def compare(out: dict[str, Any], top: str, bottom: str, target: float) -> None:
    """The ratio of two capacities against its target. Met is None (unknown) when the ratio
    passes only because the bottom capacity is a lower bound, or fails only because the top is."""
    out["ratio"] = ratio(out[top]["capacity"], out[bottom]["capacity"])
    met = out["ratio"] is not None and out["ratio"] >= target
    unsure = out[bottom if met else top]["capacity_is_lower_bound"]
    out["met"] = None if unsure else met


def scenario_g(h: Harness, cs: Server, bl: Server) -> dict[str, Any]:
    out = search_capacities(h, "g", {"chatstream": cs, "baseline": bl})
    compare(out, "chatstream", "baseline", TARGETS["g_capacity_ratio"])
    return out


def scenario_h(h: Harness, one: Server, two: Server, store: BenchRedis) -> dict[str, Any]:
    """(g)'s search for ChatStream in the scaled mode (REDIS_URL), `serve --workers 2` against
    one process."""
    out = search_capacities(h, "h", {"one_process": one, "two_workers": two}, store)
    out["redis_url"] = store.url
    compare(out, "two_workers", "one_process", TARGETS["h_workers_ratio"])
    return out
