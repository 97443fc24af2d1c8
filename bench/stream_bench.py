"""ChatStream's streaming benchmark: ChatStream against a bare Starlette SSE baseline, same run.

    backend/.venv/bin/python bench/stream_bench.py            # full run (15-20 minutes)
    backend/.venv/bin/python bench/stream_bench.py --quick    # smoke run (3-4 minutes)
    backend/.venv/bin/python bench/stream_bench.py --scenario a,c
    backend/.venv/bin/python bench/stream_bench.py --scenario e,f --redis-url redis://127.0.0.1:6379/14

Scenarios (targets from the issue; ratios are against the baseline measured in the same run):
  a  throughput: 100 concurrent streams x 2,000 chunks, no pacing; events/s >= 60% of baseline
  b  concurrent streams paced at 20 chunks/s, half the baseline's capacity from (g) (1,000 when
     (g) did not run): all complete, zero errors, p99 delivery delay <= 2x baseline; server CPU
     per delivered event <= 1.5x baseline
  c  time from request to the `start` event, sequential requests on an idle server: median <= 15 ms;
     server CPU per opened stream <= 3x baseline
  d  memory per open stream (server RSS with N open slow streams minus idle, / N) <= 100 KB,
     and a leak check (tasks, connections, RSS after the streams end)
  e  the Redis stream log: paced streams at a latency bound, ChatStream with REDIS_URL against
     ChatStream in memory (and the baseline), in rounds: events per server CPU-second >= 90% and
     p99 delivery delay <= 110% of in-memory's; stream log round trips per chunk < 0.2
  f  kill -9 of the process writing an answer: time until a survivor sharing Redis and the
     database ends it (terminal event on a reader there), with the default lease and a short one
  g  capacity: the most paced streams (20 chunks/s) each server carries with zero errors and
     p99 delivery delay <= 250 ms (a doubling, then bisecting search); ChatStream >= 60% of the
     baseline's. It runs before (b), which then opens half the baseline's capacity
  h  (g)'s search for ChatStream with REDIS_URL: `serve --workers 2` >= 1.6x one process
  i  the real model's pace: the local model (SmolLM2 on llama.cpp) through the whole pipeline
     against llama.cpp called directly, same prompt and settings, alternated: tokens/s >= 97%
     of direct, first token at most 20 ms later

Every server is a subprocess started with the same uvicorn settings; the client (sse_client.py)
runs in processes of its own, the same code for both. Everything is on 127.0.0.1. Benchmarks,
not tests: this script never fails on a timing (exit 0 unless the benchmark itself broke).
README.md explains how to read the results.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import report
from common import BENCH, HOST, PY, RESULTS, log
from harness import Harness, warm_pair, warm_up
from machine import CpuTimes, cpu_shares
from redis_store import DEFAULT_REDIS_URL, BenchRedis
from scenarios import (
    local_model_env,
    scenario_a,
    scenario_b,
    scenario_c,
    scenario_d,
    scenario_e,
    scenario_f,
    scenario_g,
    scenario_h,
    scenario_i,
)
from servers import Server, start_all, stop_all
from sizes import D_BUFFER_TTL_S, FULL, QUICK, TARGETS

ALL_SCENARIOS = ("a", "b", "c", "d", "e", "f", "g", "h", "i")
# (i) runs only when asked for: it took 5-7 minutes on a saturated 2-core machine (README).
DEFAULT_SCENARIOS = ("a", "b", "c", "d", "e", "f", "g", "h")
REDIS_SCENARIOS = {"e", "f", "h"}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, 3-4 min")
    parser.add_argument(
        "--scenario",
        default=",".join(DEFAULT_SCENARIOS),
        help="subset of a,b,c,d,e,f,g,h,i (default: all but i)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON result goes")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (logs, DB)")
    parser.add_argument("--b-ramp", type=float, help="(b): open the streams over this many s")
    parser.add_argument("--b-streams", type=int, help="(b): number of paced streams")
    parser.add_argument("--e-streams", type=int, help="(e): number of paced streams")
    parser.add_argument(
        "--i-threads",
        type=int,
        default=1,
        help="(i): llama.cpp threads (LOCAL_MODEL_THREADS), for ChatStream and the direct calls "
        "alike (default 1: on a shared machine more threads wait for each other, see README)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="(e, f, h): a Redis database for this run alone; only keys the run made are deleted "
        f"(default: $BENCH_REDIS_URL or {DEFAULT_REDIS_URL})",
    )
    args = parser.parse_args()
    scenarios = {x.strip() for x in args.scenario.split(",") if x.strip()}
    unknown = scenarios - set(ALL_SCENARIOS)
    if unknown or not scenarios:
        parser.error(f"unknown scenario(s): {sorted(unknown)}; use a subset of a,b,c,d,e,f,g,h,i")
    sizes = QUICK if args.quick else FULL
    if args.b_ramp is not None:
        sizes = replace(sizes, b_ramp_s=args.b_ramp)
    if args.b_streams is not None:
        sizes = replace(sizes, b_streams=args.b_streams)
    if args.e_streams is not None:
        sizes = replace(sizes, e_streams=args.e_streams)
    if not (Path(PY).parent / "chatstream").exists():
        log(f"note: {PY} is not the backend venv's Python; use `make bench`")

    began = time.monotonic()
    cpu_at_start = CpuTimes.now()
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
    store: BenchRedis | None = None
    if scenarios & REDIS_SCENARIOS:
        store, why = BenchRedis.find(args.redis_url)
        if store is None:
            skipped = sorted(scenarios & REDIS_SCENARIOS)
            log(
                f"REDIS NOT AVAILABLE: {why}. Skipping scenario(s) {','.join(skipped)}; the rest "
                "runs. Start Redis (e.g. `sudo apt-get install redis-server`) or pass "
                "--redis-url to measure the Redis mode."
            )
            for name in skipped:
                results[name] = {"skipped": why}
            scenarios -= REDIS_SCENARIOS
        else:
            meta["redis_url"] = store.url
            if store.keys_at_start:
                log(
                    f"note: {store.url} already holds {len(store.keys_at_start)} keys; they are "
                    "left alone, but another user of this database can disturb (e), (f) and (h)"
                )
    h = Harness(sizes, workdir)
    ok = True
    groups: dict[str, tuple[Server, Server]] = {}
    e_servers: dict[str, Server] = {}
    h_servers: tuple[Server, Server] | None = None
    i_server: Server | None = None
    background: ThreadPoolExecutor | None = None
    try:
        h.prepare()
        meta["app_dir"] = h.app_dir
        log(f"measuring the back end in {h.app_dir}")
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
        if "g" in scenarios:
            groups["g"] = (
                h.chatstream(sizes.g_chunks, sizes.g_interval_s),
                h.baseline(sizes.g_chunks, sizes.g_interval_s),
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
        if "e" in scenarios and store is not None:
            e_servers = {
                "memory": h.chatstream(sizes.e_chunks, sizes.e_interval_s),
                "redis": h.chatstream_redis(
                    "chatstream-redis", sizes.e_chunks, sizes.e_interval_s, store.url
                ),
                "baseline": h.baseline(sizes.e_chunks, sizes.e_interval_s),
            }
        if "h" in scenarios and store is not None:
            h_servers = (
                h.chatstream_redis(
                    "chatstream-redis-1", sizes.g_chunks, sizes.g_interval_s, store.url
                ),
                h.chatstream_workers(
                    "chatstream-redis-2w", sizes.g_chunks, sizes.g_interval_s, store.url, 2
                ),
            )
        # Scenario (f) starts its own servers: only two may use the Redis database at a time.
        # Scenario (i) starts its own, last, when nothing else runs: the model takes every core.
        everything = list(dict.fromkeys(server for pair in groups.values() for server in pair))
        everything += list(e_servers.values()) + list(h_servers or ())
        start_all(everything)
        if everything:
            h.create_users(everything[0])
        elif "f" in scenarios:  # (f) alone: a server for a moment, to create the users
            helper = h.chatstream(1, 0.0)
            start_all([helper])
            try:
                h.create_users(helper)
            finally:
                helper.stop()
        log(f"{len(everything)} servers up; {len(h.tokens)} users created")
        # The paced scenarios' warm-up streams last as long as theirs do, but cost almost no
        # CPU: run them in the background now rather than waiting for them later.
        background = ThreadPoolExecutor(4)
        warming = {
            name: background.submit(warm_pair, h, groups[name], chunks, interval)
            for name, chunks, interval in (
                ("g", sizes.g_chunks, sizes.g_interval_s),
                ("b", sizes.b_chunks, sizes.b_interval_s),
                ("d", sizes.d_chunks, sizes.d_interval_s),
            )
            if name in groups
        }
        if e_servers:
            warming["e"] = background.submit(warm_all, h, list(e_servers.values()))
        if h_servers:
            warming["h"] = background.submit(
                warm_pair, h, h_servers, sizes.g_chunks, sizes.g_interval_s
            )
        # (g) before (b): (b) opens half the baseline's capacity that (g) measured.
        order = [name for name in ("c", "a", "g", "b", "d") if name in groups]
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
            elif name == "g":
                warming["g"].result(timeout=600)
                log(
                    f"(g) capacity: paced streams of {sizes.g_chunks} chunks at "
                    f"{1 / sizes.g_interval_s:g}/s, from {sizes.g_start_streams} streams; at most "
                    f"{sizes.g_max_probes} probes and {sizes.g_budget_s:g} s per server"
                )
                results["g"] = scenario_g(h, cs, bl)
            elif name == "b":
                warming["b"].result(timeout=600)
                sized_by = size_b(h, results.get("g"), args)
                log(
                    f"(b) {h.sizes.b_streams} streams x {sizes.b_chunks} chunks at "
                    f"{1 / sizes.b_interval_s:g}/s, opened over {h.sizes.b_ramp_s:g} s; "
                    f"{sized_by}"
                )
                results["b"] = scenario_b(h, cs, bl)
                results["b"]["sized_by"] = sized_by
            else:
                warming["d"].result(timeout=600)
                log(
                    f"(d) {sizes.d_streams} slow streams ({sizes.d_chunks} chunks, one per "
                    f"{sizes.d_interval_s:g} s), opened over {sizes.d_ramp_s:g} s"
                )
                results["d"] = scenario_d(h, cs, bl)
            if all(groups[later] != (cs, bl) for later in order[index + 1 :]):
                stop_all([cs, bl])
        if e_servers and store is not None:
            warming["e"].result(timeout=600)
            log(
                f"(e) Redis stream log: {sizes.e_streams} streams x {sizes.e_chunks} chunks at "
                f"{1 / sizes.e_interval_s:g}/s, opened over {sizes.e_ramp_s:g} s, on ChatStream "
                f"in memory, with Redis ({store.url}) and the baseline; {sizes.e_rounds} round(s)"
            )
            results["e"] = scenario_e(h, e_servers, store)
            stop_all(list(e_servers.values()))
        if h_servers and store is not None:
            warming["h"].result(timeout=600)
            log(
                f"(h) capacity with Redis ({store.url}): `serve --workers 2` against one process, "
                f"paced streams of {sizes.g_chunks} chunks at {1 / sizes.g_interval_s:g}/s"
            )
            results["h"] = scenario_h(h, *h_servers, store)
            stop_all(list(h_servers))
        if "f" in scenarios and store is not None:
            log(
                f"(f) kill -9 of the writing process, {sizes.f_trials} trial(s) per lease of "
                f"{', '.join(f'{lease:g}' for lease in sizes.f_leases_s)} s"
            )
            results["f"] = scenario_f(h, store)
        if "i" in scenarios:
            i_env = local_model_env(h, sizes.i_max_tokens, args.i_threads)
            serve = [PY, str(BENCH / "chatstream_serve.py"), "serve", "--host", HOST]
            i_server = Server("chatstream-local", [*serve, "--port", "{port}"], i_env, workdir)
            start_all([i_server])
            log(
                f"(i) the local model's pace: {sizes.i_rounds} answers each of at most "
                f"{sizes.i_max_tokens} tokens, ChatStream and llama.cpp directly, alternated; "
                f"{args.i_threads} llama.cpp thread(s)"
            )
            results["i"] = scenario_i(h, i_server, i_env)
            stop_all([i_server])
    except Exception as exc:  # report what we have; the benchmark itself broke
        ok = False
        log(f"benchmark failed: {type(exc).__name__}: {exc}")
        meta["failure"] = f"{type(exc).__name__}: {exc}"
    finally:
        stop_all(
            list(dict.fromkeys(server for pair in groups.values() for server in pair))
            + list(e_servers.values())
            + list(h_servers or ())
            + ([i_server] if i_server is not None else [])
        )
        if background is not None:
            background.shutdown(wait=True, cancel_futures=True)
        if store is not None:
            log(f"Redis: deleted the {store.cleanup()} keys this run made in {store.url}")
        if args.keep_temp:
            log(f"temp dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    meta["duration_s"] = time.monotonic() - began
    meta["loadavg_at_end"] = os.getloadavg()
    meta["machine"]["cpu_over_run"] = cpu_shares(cpu_at_start, CpuTimes.now())
    document = {"meta": meta, "results": results}
    out_path = report.write_json(document, args.out, args.quick)
    sys.stdout.write(report.summary(results, meta, out_path))
    return 0 if ok else 1


def size_b(h: Harness, g: dict[str, Any] | None, args: argparse.Namespace) -> str:
    """Set (b)'s number of streams to half the baseline's capacity measured by (g), so that
    (b) measures a load both servers should carry, not saturation. Says how (b) was sized."""
    if args.b_streams is not None:
        return "its size set by --b-streams"
    if g is None:
        return "its fixed size: (g) did not run, so no capacity was measured"
    capacity = g["baseline"]["capacity"]
    if capacity < 2:
        return "its fixed size: (g) found no baseline capacity"
    streams = capacity // 2
    # At (g)'s opening rate, over (b)'s usual ramp at most.
    ramp = h.sizes.b_ramp_s
    if args.b_ramp is None:
        ramp = min(ramp, streams / h.sizes.g_open_per_s)
    h.sizes = replace(h.sizes, b_streams=streams, b_ramp_s=ramp)
    at_least = "at least " if g["baseline"]["capacity_is_lower_bound"] else ""
    said = f"half the baseline's capacity measured by (g) ({at_least}{capacity} streams)"
    own = g["chatstream"]["capacity"]
    if streams > own:
        said += f"; more than ChatStream carried in (g) ({own}), so ChatStream runs saturated"
    return said


def warm_all(h: Harness, servers: list[Server]) -> None:
    with ThreadPoolExecutor(len(servers)) as pool:
        list(
            pool.map(
                lambda srv: warm_up(h, srv, h.sizes.e_chunks, h.sizes.e_interval_s),
                servers,
            )
        )


if __name__ == "__main__":
    sys.exit(main())
