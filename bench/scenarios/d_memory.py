"""Scenario (d), memory per open stream and a leak check (tasks, sockets, RSS afterwards)."""

from __future__ import annotations

import statistics
import time
from typing import Any

from clients import run_clients
from common import log
from harness import Harness
from servers import Server
from sizes import D_BUFFER_TTL_S, TARGETS
from stats import fmt, ratio, server_failures


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
