"""Scenario (b), paced streams: completion, errors and delivery delay of streams at 20 chunks/s."""

from __future__ import annotations

from typing import Any

from clients import run_clients
from common import log
from harness import Harness
from servers import Sampler, Server
from sizes import TARGETS
from stats import fmt, pct, peak_concurrency, ratio, server_failures


def run_b_once(h: Harness, server: Server) -> dict[str, Any]:
    s = h.sizes
    return run_paced(
        h,
        server,
        streams=s.b_streams,
        chunks=s.b_chunks,
        interval_s=s.b_interval_s,
        ramp_s=s.b_ramp_s,
        clients=s.b_clients,
    )


def run_paced(
    h: Harness,
    server: Server,
    *,
    streams: int,
    chunks: int,
    interval_s: float,
    ramp_s: float,
    clients: int,
) -> dict[str, Any]:
    """`streams` paced streams of `chunks` chunks, one every `interval_s`, opened evenly over
    `ramp_s` (the server's scripted model must be set to the same pace and length)."""
    paths = h.paths(streams)
    duration = chunks * interval_s
    gc0 = server.gc_pauses()
    cpu0 = server.cpu_s()
    rss0 = server.rss_kb()
    with Sampler(server) as sampler:
        run = run_clients(
            h.workdir,
            server.port,
            paths,
            clients,
            {
                "mode": "streams",
                "ramp_s": ramp_s,
                "interval_s": interval_s,
                "record_arrivals": True,
                "expected_chunks": chunks,
                "deadline_s": ramp_s + duration * 3 + 60,
            },
        )
    results = run.streams
    cpu = server.cpu_s() - cpu0
    gc_during = collector_pauses(gc0, server.gc_pauses())
    first = min(x["t_sent"] for x in results)
    last = max(x["t_end"] for x in results if x["t_end"] is not None)
    delays: list[float] = []
    e2e: list[float] = []
    opens: list[float] = []
    gaps: list[float] = []  # how late each chunk came after the one before it (no drift)
    # The same lateness by the second of the run it arrived in: where the delay builds up
    # (streams opening, all streams running, streams ending and being saved).
    gaps_by_second: dict[int, list[float]] = {}
    for x in results:
        if x["t_start"] is not None:
            open_ms = (x["t_start"] - x["t_sent"]) * 1000
            opens.append(open_ms)
            previous = 0.0
            for k, d in enumerate(x.get("delays_ms") or []):
                delays.append(d)
                e2e.append(d + open_ms)
                gaps.append(d - previous)
                arrived = x["t_start"] + (k + 1) * interval_s + d / 1000 - first
                gaps_by_second.setdefault(int(arrived), []).append(d - previous)
                previous = d
    started = [x["t_start"] for x in results if x["t_start"]]
    intervals = [(x["t_start"], x["t_end"]) for x in results if x["t_start"] and x["t_end"]]
    completed = sum(1 for x in results if x["complete"] and not x["error"])
    errors = server_failures(results)
    quantiles = ("p50", "p95", "p99")
    events = sum(x["chunks"] for x in results)
    return {
        "streams": streams,
        "completed": completed,
        "errors": errors,
        "error_count": sum(errors.values()),
        "events": events,
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
        "server_cpu_s": cpu,
        "server_cpu_util": cpu / (last - first),
        "events_per_server_cpu_s": events / cpu if cpu > 0 else None,
        "client_cpu_util": run.cpu_s / (last - first),
        "rss_before_kb": rss0,
        "peak_rss_kb": max(sampler.rss, default=None),
        "peak_fds": max(sampler.fds, default=None),
        "gc": gc_during,
    }


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
    # CPU per delivered event, ChatStream's over the baseline's: the same events on each side,
    # opens and saves included.
    out["cpu_per_event_ratio"] = ratio(
        bl_r["events_per_server_cpu_s"], cs_r["events_per_server_cpu_s"]
    )
    out["chunks_per_stream"] = h.sizes.b_chunks
    out["interval_s"] = h.sizes.b_interval_s
    out["ramp_s"] = h.sizes.b_ramp_s
    out["all_complete"] = cs_r["completed"] == cs_r["streams"]
    out["zero_errors"] = cs_r["error_count"] == 0
    out["p99_met"] = out["p99_ratio"] is not None and out["p99_ratio"] <= TARGETS["b_p99_ratio"]
    out["met"] = bool(out["all_complete"] and out["zero_errors"] and out["p99_met"])
    out["cpu_per_event_met"] = (
        out["cpu_per_event_ratio"] is not None
        and out["cpu_per_event_ratio"] <= TARGETS["b_cpu_per_event_ratio"]
    )
    return out
