"""Scenario (e), the Redis stream log: paced streams at a latency bound, Redis vs in memory.

Three servers with the same scripted answer: ChatStream without Redis (the in-memory mode),
ChatStream with REDIS_URL (every frame also goes to the answer's stream log), and the baseline.
The same paced load runs on each, in rounds. In each round the two ChatStream servers run at
the same time, each with its own client, and the baseline before or after them: the Redis ÷
in-memory ratios compare two servers over the same seconds of the same machine, whose speed
moved by a fifth from one 7-second run to the next. The Redis server's round trips and frames
come from its /metrics, before and after each run.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from common import log
from harness import Harness
from machine import Watch, describe
from redis_store import BenchRedis
from servers import Server
from sizes import TARGETS
from stats import fmt, histogram_quantile, ratio, spread

from scenarios.b_paced import run_paced

NAMES = ("memory", "redis", "baseline")
ROUND_TRIPS = "chatstream_stream_log_round_trips_total"
FRAMES = "chatstream_stream_log_frames_total"
FAILURES = "chatstream_stream_log_failures_total"
LAG_BUCKET = "chatstream_stream_log_lag_seconds_bucket"


def stream_log_figures(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """What the stream log did between two readings of the server's /metrics."""

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    round_trips, frames = delta(ROUND_TRIPS), delta(FRAMES)
    buckets = []
    for sample, count in after.items():
        if sample.startswith(LAG_BUCKET + "{"):
            bound = sample.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(bound), count - before.get(sample, 0.0)))
    lag = {q: histogram_quantile(value, buckets) for q, value in (("p50", 0.5), ("p99", 0.99))}
    return {
        "round_trips": round_trips,
        "frames": frames,
        "failures": delta(FAILURES),
        "round_trips_per_chunk": ratio(round_trips, frames),
        "frames_per_round_trip": ratio(frames, round_trips),
        # From the histogram's buckets (0.001, 0.0025, 0.005, 0.01, ... s): bucket resolution.
        "lag_ms": {q: None if v is None else v * 1000 for q, v in lag.items()},
    }


def run_e_once(
    h: Harness, name: str, server: Server, store: BenchRedis | None
) -> dict[str, Any]:
    """One server's run; `store` given, the Redis server's CPU meanwhile too (with the pair at
    once, that of the Redis-mode run only: the in-memory one makes no Redis calls)."""
    s = h.sizes
    before = server.metrics() if name == "redis" else {}
    redis_cpu0 = store.cpu_s() if store is not None else None
    with Watch() as machine:
        r = run_paced(
            h,
            server,
            streams=s.e_streams,
            chunks=s.e_chunks,
            interval_s=s.e_interval_s,
            ramp_s=s.e_ramp_s,
            clients=1,
        )
    redis_cpu1 = store.cpu_s() if store is not None else None
    r["machine"] = machine.state
    # The whole Redis server's CPU meanwhile, every client's.
    r["redis_server_cpu_s"] = (
        redis_cpu1 - redis_cpu0 if redis_cpu0 is not None and redis_cpu1 is not None else None
    )
    if name == "redis" and store is not None:
        r["stream_log"] = stream_log_figures(before, server.metrics())
        r["stream_log"]["redis_memory"] = store.log_memory()
    return r


def log_e_run(rnd: int, name: str, r: dict[str, Any]) -> None:
    d = r["delay_ms"]
    extra = ""
    if "stream_log" in r:
        sl = r["stream_log"]
        extra = (
            f"; {fmt(sl['round_trips_per_chunk'], '.3f')} round trips per chunk, "
            f"log lag p99 {fmt(sl['lag_ms']['p99'])} ms"
        )
    log(
        f"  e round {rnd + 1} {name:8s}: {r['completed']}/{r['streams']} complete, "
        f"errors {r['error_count']}; {fmt(r['events_per_server_cpu_s'], ',.0f')} events "
        f"per server CPU-s (server CPU {r['server_cpu_util']:.0%}); delay p50 "
        f"{fmt(d['p50'])} p99 {fmt(d['p99'])} ms{extra}; {describe(r['machine'])}"
    )
    if r["errors"]:
        log(f"    errors: {r['errors']}")


def run_e_pair(h: Harness, servers: dict[str, Server], store: BenchRedis) -> list[dict[str, Any]]:
    """The in-memory and the Redis server's runs, at the same time."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        memory = pool.submit(run_e_once, h, "memory", servers["memory"], None)
        redis = pool.submit(run_e_once, h, "redis", servers["redis"], store)
        return [memory.result(), redis.result()]


def scenario_e(h: Harness, servers: dict[str, Server], store: BenchRedis) -> dict[str, Any]:
    s = h.sizes
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in NAMES}
    for rnd in range(s.e_rounds):
        # The pair and the baseline take turns going first.
        steps = [("memory", "redis"), ("baseline",)]
        for step in steps if rnd % 2 == 0 else steps[::-1]:
            if step == ("baseline",):
                done = [run_e_once(h, "baseline", servers["baseline"], None)]
            else:
                done = run_e_pair(h, servers, store)
            for name, r in zip(step, done, strict=True):
                runs[name].append(r)
                log_e_run(rnd, name, r)

    def figure(name: str, key: str, q: str | None = None) -> list[float | None]:
        return [r[key] if q is None else r[key][q] for r in runs[name]]

    def paired(a: str, b: str, key: str, q: str | None = None) -> dict[str, float | None]:
        """The ratio a / b in each round (the in-memory and Redis runs of a round at the same
        time, the baseline's seconds before or after), as median, min and max over the rounds."""
        pairs = zip(figure(a, key, q), figure(b, key, q), strict=True)
        return spread([ratio(x, y) for x, y in pairs])

    out: dict[str, Any] = {
        "streams": s.e_streams,
        "chunks_per_stream": s.e_chunks,
        "interval_s": s.e_interval_s,
        "ramp_s": s.e_ramp_s,
        "rounds": s.e_rounds,
        "redis_url": store.url,
        "runs": runs,
    }
    for name in NAMES:
        out[name] = {
            "events_per_server_cpu_s": spread(figure(name, "events_per_server_cpu_s")),
            "delay_p50_ms": spread(figure(name, "delay_ms", "p50")),
            "delay_p99_ms": spread(figure(name, "delay_ms", "p99")),
            "gap_lateness_p99_ms": spread(figure(name, "gap_lateness_ms", "p99")),
            "server_cpu_util": spread(figure(name, "server_cpu_util")),
            "redis_server_cpu_s": spread(figure(name, "redis_server_cpu_s")),
            "completed": sum(r["completed"] for r in runs[name]),
            "streams": sum(r["streams"] for r in runs[name]),
            "errors": sum(r["error_count"] for r in runs[name]),
        }
    logs = [r["stream_log"] for r in runs["redis"]]
    out["redis"]["round_trips_per_chunk"] = spread([x["round_trips_per_chunk"] for x in logs])
    out["redis"]["frames_per_round_trip"] = spread([x["frames_per_round_trip"] for x in logs])
    out["redis"]["log_lag_p50_ms"] = spread([x["lag_ms"]["p50"] for x in logs])
    out["redis"]["log_lag_p99_ms"] = spread([x["lag_ms"]["p99"] for x in logs])
    out["redis"]["log_failures"] = sum(x["failures"] for x in logs)
    out["redis"]["redis_bytes_per_frame"] = spread(
        [x["redis_memory"]["bytes_per_frame"] for x in logs]
    )
    out["redis"]["redis_bytes_per_log"] = spread([x["redis_memory"]["bytes_per_log"] for x in logs])
    out["ratios"] = {
        f"{a}/{b}": {
            "events_per_server_cpu_s": paired(a, b, "events_per_server_cpu_s"),
            "delay_p99_ms": paired(a, b, "delay_ms", "p99"),
            "delay_p50_ms": paired(a, b, "delay_ms", "p50"),
            "gap_lateness_p99_ms": paired(a, b, "gap_lateness_ms", "p99"),
        }
        for a, b in (("redis", "memory"), ("redis", "baseline"), ("memory", "baseline"))
    }
    cpu_ratio = out["ratios"]["redis/memory"]["events_per_server_cpu_s"]["median"]
    p99_ratio = out["ratios"]["redis/memory"]["delay_p99_ms"]["median"]
    per_chunk = out["redis"]["round_trips_per_chunk"]["median"]
    out["cpu_met"] = cpu_ratio is not None and cpu_ratio >= TARGETS["e_cpu_ratio"]
    out["p99_met"] = p99_ratio is not None and p99_ratio <= TARGETS["e_p99_ratio"]
    out["round_trips_met"] = (
        per_chunk is not None and per_chunk < TARGETS["e_round_trips_per_chunk"]
    )
    out["all_complete"] = all(
        out[name]["completed"] == out[name]["streams"] and out[name]["errors"] == 0
        for name in ("memory", "redis")
    )
    return out
