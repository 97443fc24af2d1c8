"""Scenario (a), throughput: concurrent unpaced streams, events/s against the baseline's."""

from __future__ import annotations

import statistics
from typing import Any

from clients import run_clients
from common import log
from harness import Harness
from servers import Sampler, Server
from sizes import TARGETS
from stats import ratio, server_failures


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
