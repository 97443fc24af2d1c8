"""The report: the printed table and summary lines, and the JSON result file."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from common import ROOT
from machine import describe
from sizes import TARGETS
from stats import fmt, ratio, rounded


def collector_summary(pauses: dict[str, Any] | None) -> str:
    """`total / longest` pause in ms over every generation, for the table."""
    if not pauses:
        return "n/a"
    total = sum(g["pause_ms"] for g in pauses.values())
    longest = (
        max(g["longest_ms"] for g in pauses.values() if g["collections"])
        if any(g["collections"] for g in pauses.values())
        else 0.0
    )
    return f"{total:.0f} / {longest:.0f}"


def _us_per_event(run: dict[str, Any]) -> float | None:
    """Server CPU per delivered event, in µs, from a paced run's events per CPU-second."""
    per_s = run.get("events_per_server_cpu_s")
    return 1e6 / per_s if per_s else None


def _stored_whole(trial: dict[str, Any]) -> bool:
    return trial["stored_status"] == "interrupted" and bool(trial["stored_matches_log"])


def fmt_spread(figures: dict[str, Any] | None, spec: str = ".1f") -> str:
    """`median [min-max]` of repeated measurements; just the value when there was one."""
    if not figures or figures.get("median") is None:
        return "-"
    median, low, high = figures["median"], figures["min"], figures["max"]
    if low == high:
        return fmt(median, spec)
    return f"{fmt(median, spec)} [{fmt(low, spec)}-{fmt(high, spec)}]"


def capacity(search: dict[str, Any]) -> str:
    """(g)'s capacity, `400+` when no probe failed (the search hit a limit first)."""
    return f"{search['capacity']}{'+' if search['capacity_is_lower_bound'] else ''}"


def machine_cores(search: dict[str, Any]) -> str:
    """`1.51 of 2`: the cores a search's capacity probe took (server, clients, Redis)."""
    cpu = search.get("machine_cpu_at_capacity")
    if not cpu:
        return "-"
    return f"{cpu['cores']:.2f} of {cpu['machine_cores']}"


def probe_lines(letter: str, names: tuple[str, ...], x: dict[str, Any] | None) -> list[str]:
    """Every probe of a capacity search, (g) or (h), with the machine's state meanwhile."""
    if not x or "skipped" in x:
        return []
    lines = [
        f"({letter}) probes (carried: all complete, zero errors, p99 <= {x['p99_bound_ms']:.0f} "
        f"ms, at least {x['peak_share']:.0%} open at once):"
    ]
    for name in names:
        for p in x[name]["probes"]:
            verdict = ("carried" if p["carried"] else "NOT carried") + (
                " (again)" if p.get("repeat") else ""
            )
            lines.append(
                f"    {name:11s} {p['streams']:5d} streams: {verdict:19s} p99 "
                f"{fmt(p['delay_ms']['p99'], '.0f')} ms, {p['error_count']} errors, "
                f"{p['completed']} complete, peak {p['peak_concurrent_streams']} open; "
                f"{describe(p['machine'])}"
            )
        lines.append(f"    {name:11s} search stopped by {x[name]['stopped_by']}")
    return lines


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, ...]] = []

    def row(
        metric: str, cs: str = "", bl: str = "", r: str = "", target: str = "", met: str = ""
    ) -> None:
        rows.append((metric, cs, bl, r, target, met))

    def pair(a: Any, b: Any, spec: str = ".1f") -> tuple[str, str]:
        return fmt(a, spec), fmt(b, spec)

    a = results.get("a")
    if a:
        cs, bl = a["chatstream"], a["baseline"]
        row(
            f"(a) events/s, {a['streams']} streams x {a['chunks_per_stream']} chunks "
            f"(median of {a['reps']})",
            *pair(cs["events_per_s"], bl["events_per_s"], ",.0f"),
            fmt(a["ratio"], ".2f"),
            f">= {TARGETS['a_ratio']:.2f}",
            fmt(a["met"]),
        )
        row(
            "    events per server CPU-second",
            *pair(cs["events_per_server_cpu_s"], bl["events_per_server_cpu_s"], ",.0f"),
            fmt(a["cpu_efficiency_ratio"], ".2f"),
        )
        row(
            "    server CPU / client CPU (of one core)",
            f"{fmt(cs['server_cpu_util'], '.0%')} / {fmt(cs['client_cpu_util'], '.0%')}",
            f"{fmt(bl['server_cpu_util'], '.0%')} / {fmt(bl['client_cpu_util'], '.0%')}",
        )
        row(
            "    errors / incomplete streams",
            f"{cs['errors']} / {cs['incomplete']}",
            f"{bl['errors']} / {bl['incomplete']}",
        )
    g = results.get("g")
    if g:
        cs, bl = g["chatstream"], g["baseline"]
        row(
            f"(g) capacity: most streams carried at p99 <= {g['p99_bound_ms']:.0f} ms "
            f"({1 / g['interval_s']:.0f}/s x {g['chunks_per_stream']} chunks)",
            capacity(cs),
            capacity(bl),
            fmt(g["ratio"], ".2f"),
            f">= {TARGETS['g_capacity_ratio']:.2f}",
            fmt(g["met"]),
        )
        row(
            "    first probe not carried",
            fmt(cs["first_failure"], "d"),
            fmt(bl["first_failure"], "d"),
        )
        row(
            "    server CPU at capacity (of one core)",
            *pair(cs["server_cpu_util_at_capacity"], bl["server_cpu_util_at_capacity"], ".0%"),
        )
        row("    machine CPU at capacity: server + clients", machine_cores(cs), machine_cores(bl))
        row(
            "    probes, search time (s)",
            f"{len(cs['probes'])}, {cs['search_s']:.0f}",
            f"{len(bl['probes'])}, {bl['search_s']:.0f}",
        )
    x = results.get("h")
    if x and "skipped" in x:
        row("(h) capacity with Redis, --workers 2 / one process: skipped, no Redis", "-")
    elif x:
        two, one = x["two_workers"], x["one_process"]

        def both(a: str, b: str) -> str:
            return f"{a} / {b}"

        row(
            "(h) capacity with Redis, serve --workers 2 / one process",
            both(capacity(two), capacity(one)),
            "",
            fmt(x["ratio"], ".2f"),
            f">= {TARGETS['h_workers_ratio']:.2f}",
            fmt(x["met"]),
        )
        row(
            "    first probe not carried",
            both(fmt(two["first_failure"], "d"), fmt(one["first_failure"], "d")),
        )
        row(
            "    server CPU at capacity (of one core)",
            both(
                fmt(two["server_cpu_util_at_capacity"], ".0%"),
                fmt(one["server_cpu_util_at_capacity"], ".0%"),
            ),
        )
        row(
            "    probes, search time (s)",
            both(
                f"{len(two['probes'])}, {two['search_s']:.0f}",
                f"{len(one['probes'])}, {one['search_s']:.0f}",
            ),
        )
        row(
            "    machine CPU at capacity: server + clients + Redis",
            both(machine_cores(two), machine_cores(one)),
        )
    b = results.get("b")
    if b:
        cs, bl = b["chatstream"], b["baseline"]
        row(
            f"(b) {cs['streams']} streams x {b['chunks_per_stream']} chunks @ "
            f"{1 / b['interval_s']:.0f}/s, opened over {b['ramp_s']:g} s: complete",
            f"{cs['completed']}/{cs['streams']}",
            f"{bl['completed']}/{bl['streams']}",
            "",
            "all",
            fmt(b["all_complete"]),
        )
        row(
            "    errors",
            str(cs["error_count"]),
            str(bl["error_count"]),
            "",
            "0",
            fmt(b["zero_errors"]),
        )
        row(
            "    peak concurrent streams",
            str(cs["peak_concurrent_streams"]),
            str(bl["peak_concurrent_streams"]),
        )
        for q in ("p50", "p95"):
            row(
                f"    delivery delay {q} (ms)",
                *pair(cs["delay_ms"][q], bl["delay_ms"][q]),
                fmt(ratio(cs["delay_ms"][q], bl["delay_ms"][q]), ".2f"),
            )
        row(
            "    delivery delay p99 (ms)",
            *pair(cs["delay_ms"]["p99"], bl["delay_ms"]["p99"]),
            fmt(b["p99_ratio"], ".2f"),
            "<= 2.00",
            fmt(b["p99_met"]),
        )
        row(
            "    chunk-to-chunk lateness p99 (ms, no drift)",
            *pair(cs["gap_lateness_ms"]["p99"], bl["gap_lateness_ms"]["p99"]),
            fmt(b["gap_p99_ratio"], ".2f"),
        )
        row(
            "    p99 counted from request sent (ms)",
            *pair(cs["e2e_delay_ms"]["p99"], bl["e2e_delay_ms"]["p99"]),
            fmt(b["e2e_p99_ratio"], ".2f"),
        )
        row(
            "    request -> start p50 / p99 (ms)",
            f"{fmt(cs['open_ms']['p50'])} / {fmt(cs['open_ms']['p99'])}",
            f"{fmt(bl['open_ms']['p50'])} / {fmt(bl['open_ms']['p99'])}",
        )
        row("    streams opened per second", *pair(cs["opens_per_s"], bl["opens_per_s"], ".0f"))
        row(
            "    server CPU per delivered event (µs)",
            *pair(_us_per_event(cs), _us_per_event(bl)),
            fmt(b.get("cpu_per_event_ratio"), ".2f"),
            f"<= {TARGETS['b_cpu_per_event_ratio']:.2f}",
            fmt(b.get("cpu_per_event_met")),
        )
        row(
            "    server CPU / client CPU",
            f"{fmt(cs['server_cpu_util'], '.0%')} / {fmt(cs['client_cpu_util'], '.0%')}",
            f"{fmt(bl['server_cpu_util'], '.0%')} / {fmt(bl['client_cpu_util'], '.0%')}",
        )
        row(
            "    collector pauses: total / longest (ms)",
            collector_summary(cs.get("gc")),
            collector_summary(bl.get("gc")),
        )
        row("    (met: all complete, zero errors and p99)", "", "", "", "", fmt(b["met"]))
    c = results.get("c")
    if c:
        cs, bl = c["chatstream"], c["baseline"]
        row(
            f"(c) request -> start event, median ms ({cs['requests']} sequential)",
            *pair(cs["start_ms"]["p50"], bl["start_ms"]["p50"], ".2f"),
            fmt(c["median_ratio"], ".1f"),
            "<= 15 ms",
            fmt(c["met"]),
        )
        row(
            "    request -> start event, p95 ms",
            *pair(cs["start_ms"]["p95"], bl["start_ms"]["p95"], ".2f"),
        )
        row(
            "    request -> first byte (headers), median ms",
            *pair(cs["ttfb_ms"]["p50"], bl["ttfb_ms"]["p50"], ".2f"),
        )
        row(
            f"    server CPU per stream ({c['chunks_per_stream']} chunks), ms",
            *pair(cs["server_cpu_ms_per_stream"], bl["server_cpu_ms_per_stream"], ".2f"),
            fmt(c.get("cpu_ratio"), ".2f"),
            f"<= {TARGETS['c_cpu_ratio']:.2f}",
            fmt(c.get("cpu_met")),
        )
    d = results.get("d")
    if d:
        cs, bl = d["chatstream"], d["baseline"]
        row(
            "(d) memory per open stream, KB "
            f"({cs['open_streams_when_measured']} / {bl['open_streams_when_measured']} open)",
            *pair(cs["kb_per_stream"], bl["kb_per_stream"]),
            fmt(d["ratio"], ".1f"),
            "<= 100 KB",
            fmt(d["met"]),
        )

        def trio(r: dict[str, Any], key: str) -> str:
            return (
                f"{r['idle'][key]} / {r['rounds'][0]['open'].get(key)} / "
                f"{r['rounds'][-1]['after'][key]}"
            )

        row(
            "    asyncio tasks idle / open / after",
            trio(cs, "tasks"),
            trio(bl, "tasks"),
            "",
            "back to idle",
            fmt(d["leak_check"]["tasks_back_to_idle"]),
        )
        row(
            "    sockets idle / open / after",
            trio(cs, "sockets"),
            trio(bl, "sockets"),
            "",
            "back to idle",
            fmt(d["leak_check"]["sockets_back_to_idle"]),
        )
        row(
            "    RSS after the streams end - idle (MB)",
            *pair(cs["rss_after_minus_idle_kb"] / 1024, bl["rss_after_minus_idle_kb"] / 1024),
        )
        if cs["rss_growth_between_rounds_kb"] is not None:
            row(
                f"    RSS growth, round 1 -> round {len(cs['rounds'])} after (MB)",
                fmt(cs["rss_growth_between_rounds_kb"] / 1024),
            )
    e = results.get("e")
    if e and "skipped" in e:
        row("(e) Redis stream log: skipped, no Redis", "-")
    elif e:
        mem, red, bl = e["memory"], e["redis"], e["baseline"]
        vs_mem, vs_bl = e["ratios"]["redis/memory"], e["ratios"]["memory/baseline"]
        red_bl = e["ratios"]["redis/baseline"]
        rounds = f"median [min-max] of {e['rounds']} rounds" if e["rounds"] > 1 else "1 round"
        row(
            f"(e) {e['streams']} streams x {e['chunks_per_stream']} chunks @ "
            f"{1 / e['interval_s']:.0f}/s, {rounds}: complete",
            f"{mem['completed']}/{mem['streams']} mem, {red['completed']}/{red['streams']} Redis",
            f"{bl['completed']}/{bl['streams']}",
            "",
            "all",
            fmt(e["all_complete"]),
        )
        for label, key, spec in (
            ("events per server CPU-second", "events_per_server_cpu_s", ",.0f"),
            ("delivery delay p50 (ms)", "delay_p50_ms", ".1f"),
            ("delivery delay p99 (ms)", "delay_p99_ms", ".1f"),
            ("chunk-to-chunk lateness p99 (ms, no drift)", "gap_lateness_p99_ms", ".1f"),
        ):
            row(
                f"    {label}, in memory",
                fmt_spread(mem[key], spec),
                fmt_spread(bl[key], spec),
                fmt_spread(vs_bl[key], ".2f") if key in vs_bl else "",
            )
            row(
                f"    {label}, with Redis",
                fmt_spread(red[key], spec),
                "",
                fmt_spread(red_bl[key], ".2f") if key in red_bl else "",
            )
        row(
            "    Redis / in memory: events per server CPU-second",
            "",
            "",
            fmt_spread(vs_mem["events_per_server_cpu_s"], ".2f"),
            ">= 0.90",
            fmt(e["cpu_met"]),
        )
        row(
            "    Redis / in memory: delivery delay p99",
            "",
            "",
            fmt_spread(vs_mem["delay_p99_ms"], ".2f"),
            "<= 1.10",
            fmt(e["p99_met"]),
        )
        row(
            "    Redis / in memory: chunk-to-chunk lateness p99",
            "",
            "",
            fmt_spread(vs_mem["gap_lateness_p99_ms"], ".2f"),
        )
        row(
            "    stream log round trips per chunk",
            fmt_spread(red["round_trips_per_chunk"], ".3f"),
            "",
            "",
            "< 0.20",
            fmt(e["round_trips_met"]),
        )
        row(
            "    stream log lag p50 / p99 (ms, from the histogram)",
            f"{fmt_spread(red['log_lag_p50_ms'])} / {fmt_spread(red['log_lag_p99_ms'])}",
        )
        row(
            "    server CPU, in memory / with Redis (of one core)",
            f"{fmt_spread(mem['server_cpu_util'], '.0%')} / "
            f"{fmt_spread(red['server_cpu_util'], '.0%')}",
            fmt_spread(bl["server_cpu_util"], ".0%"),
        )
        row(
            f"    Redis bytes per answer's log ({e['chunks_per_stream']} chunks) / per frame",
            f"{fmt_spread(red['redis_bytes_per_log'], ',.0f')} / "
            f"{fmt_spread(red['redis_bytes_per_frame'], '.0f')}",
        )
        row(
            "    Redis server CPU-s per run (the Redis-mode server's calls)",
            fmt_spread(red["redis_server_cpu_s"], ".2f"),
        )
    f = results.get("f")
    if f and "skipped" in f:
        row("(f) recovery after kill -9: skipped, no Redis", "-")
    elif f:
        for lease in f["leases"].values():
            trials = len(lease["trials"])
            row(
                f"(f) kill -9 -> terminal event on the survivor (s), lease {lease['lease_s']:g} s"
                + (f", median [min-max] of {trials}" if trials > 1 else ""),
                fmt_spread(lease["kill_to_terminal_s"], ".2f"),
                "",
                "",
                "",
                fmt(lease["all_ended"]),
            )
            row(
                "    answer stored `interrupted`, equal to its log",
                f"{sum(_stored_whole(t) for t in lease['trials'])}/{trials}",
                "",
                "",
                "all",
                fmt(lease["all_stored"]),
            )
    i = results.get("i")
    if i:
        rounds = len(i["runs"]["chatstream"])
        rate, extra = i["rate_ratio"]["median"], i["ttft_extra_ms"]["median"]
        row(
            f"(i) local model tokens/s, through ChatStream / llama.cpp direct, median of {rounds}",
            fmt_spread(i["chatstream"]["tokens_per_s"]),
            fmt_spread(i["direct"]["tokens_per_s"]),
            fmt_spread(i["rate_ratio"], ".3f"),
            f">= {TARGETS['i_rate_ratio']:.2f}",
            fmt(None if rate is None else rate >= TARGETS["i_rate_ratio"]),
        )
        row(
            "(i) time to the first token (ms); ratio column: ChatStream - direct",
            fmt_spread(i["chatstream"]["ttft_ms"]),
            fmt_spread(i["direct"]["ttft_ms"]),
            fmt_spread(i["ttft_extra_ms"]),
            f"<= +{TARGETS['i_ttft_extra_ms']:g} ms",
            fmt(None if extra is None else extra <= TARGETS["i_ttft_extra_ms"]),
        )
        row(
            "    the same text from both (temperature 0), tokens per answer",
            fmt(i["same_text"]),
            ", ".join(str(n) for n in i["tokens"]),
        )
    header = ("metric", "ChatStream", "baseline", "ratio", "target", "met?")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(6)]
    lines = []
    for i, cells in enumerate([header, *rows]):
        lines.append(
            "  ".join(
                cell.ljust(widths[j]) if j == 0 else cell.rjust(widths[j])
                for j, cell in enumerate(cells)
            ).rstrip()
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(document: dict[str, Any], out_dir: Path, quick: bool) -> Path:
    """Write the run's JSON (figures rounded to 3 digits) to a timestamped file in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out_path = out_dir / f"{stamp}{'-quick' if quick else ''}.json"
    out_path.write_text(json.dumps(rounded(document, 3), indent=2) + "\n")
    return out_path


def summary(results: dict[str, Any], meta: dict[str, Any], out_path: Path) -> str:
    """The table and the lines under it, as printed at the end of the run."""
    shown = out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path
    over = meta["machine"].get("cpu_over_run") or {}
    report = [
        "",
        table(results),
        "",
        f"{os.cpu_count()} CPUs shared by both servers and the client processes (127.0.0.1 only); "
        "ratios compare with the baseline measured in this run.",
        f"Load average {meta['machine']['loadavg_at_start'][0]:.2f} at start, "
        f"{meta['loadavg_at_end'][0]:.2f} at end; over the run the machine's CPUs were "
        f"{fmt(over.get('busy'), '.0%')} busy, {fmt(over.get('steal'), '.1%')} stolen. "
        f"Took {meta['duration_s']:.0f} s. JSON: {shown}",
    ]
    for letter, names in (("g", ("chatstream", "baseline")), ("h", ("two_workers", "one_process"))):
        report += probe_lines(letter, names, results.get(letter))
    b = results.get("b")
    if b and b.get("sized_by"):
        report.append(f"(b) {b['chatstream']['streams']} streams: {b['sized_by']}")
    e = results.get("e")
    if e and "runs" in e:
        report.append("(e) machine during each run:")
        for name, runs in e["runs"].items():
            for index, run in enumerate(runs):
                report.append(f"    round {index + 1} {name:8s}: {describe(run['machine'])}")
    return "\n".join(report) + "\n"
