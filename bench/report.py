"""The report: the printed table and summary lines, and the JSON result file."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from common import ROOT
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
            ">= 0.50",
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
            fmt(ratio(cs["server_cpu_ms_per_stream"], bl["server_cpu_ms_per_stream"]), ".0f"),
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
    report = [
        "",
        table(results),
        "",
        f"{os.cpu_count()} CPUs shared by both servers and the client processes (127.0.0.1 only); "
        "ratios compare with the baseline measured in this run.",
        f"Load average {meta['machine']['loadavg_at_start'][0]:.2f} at start, "
        f"{meta['loadavg_at_end'][0]:.2f} at end. Took {meta['duration_s']:.0f} s. JSON: {shown}",
    ]
    return "\n".join(report) + "\n"
