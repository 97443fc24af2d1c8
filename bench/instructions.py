"""Instructions per opened stream, ChatStream and the bare baseline, counted by callgrind.

Item 3's figure, server CPU per opened stream, moves by half from one hour to the next on a
shared machine. An instruction count does not: callgrind runs each server on a simulated CPU
and counts the instructions its threads execute, the same for the same code and inputs whatever
else the machine does (three runs of 100 opens agreed within 0.2% here). It leaves out the
kernel's share (system calls, the network) and how fast each instruction runs, so it measures
our code's work, not seconds: read it beside (c), not instead of it.

Each server runs under `valgrind --tool=callgrind` with counting off while it starts (a minute
or so: imports run about 50 times slower) and during a warm-up; then `callgrind_control` counts
the opens only: sequential streams of 5 chunks on one kept-alive connection, the answer saved.

Usage: python bench/instructions.py [--opens 100]   (make bench-instructions; needs valgrind)
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from common import HOST, RESULTS, log
from harness import Harness
from servers import Server
from sizes import QUICK

CHUNKS = 5
WARM_UP = 20


def _under_callgrind(server: Server, out_dir: Path) -> Server:
    server.cmd = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_dir / f'{server.name}.callgrind'}",
        *server.cmd,
    ]
    return server


def _opens(server: Server, token: str, first: int, count: int, tag: str) -> None:
    connection = http.client.HTTPConnection(HOST, server.port, timeout=300)
    message = urllib.parse.quote("Benchmark: tell me something.")
    for i in range(first, first + count):
        connection.request(
            "GET",
            f"/api/v1/chat/stream?message={message}&client_message_id={tag}-{i:07d}&token={token}",
        )
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or b'"complete"' not in body:
            raise RuntimeError(
                f"{server.name}: stream {i} failed: {response.status} {body[:200]!r}"
            )
    connection.close()


def _control(server: Server, *args: str) -> None:
    subprocess.run(
        ["callgrind_control", *args, str(server.pid)],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _counted(server: Server, out_dir: Path) -> int:
    """Instructions since counting was switched on: the newest dump's total."""
    dumps = sorted(out_dir.glob(f"{server.name}.callgrind.*"), key=lambda p: p.stat().st_mtime)
    for line in dumps[-1].read_text().splitlines():
        if line.startswith("totals:"):  # `summary:` is 0 in a dump made on request
            return int(line.split()[1])
    raise RuntimeError(f"no total in {dumps[-1]}")


def measure(server: Server, token: str, out_dir: Path, opens: int, tag: str) -> float:
    _opens(server, token, 0, WARM_UP, tag)
    time.sleep(1)
    _control(server, "-z")
    _control(server, "-i", "on")
    _opens(server, token, WARM_UP, opens, tag)
    _control(server, "-i", "off")
    _control(server, "-d")
    time.sleep(2)  # the dump is written by the server's next scheduling slice
    return _counted(server, out_dir) / opens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opens", type=int, default=100, help="opens counted per server")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON result goes")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind is needed: apt-get install -y valgrind")
    with tempfile.TemporaryDirectory(prefix="chatstream-instructions-") as temp:
        workdir = Path(temp)
        h = Harness(QUICK, workdir)  # its five users: one is enough
        h.prepare()
        chatstream = _under_callgrind(h.chatstream(CHUNKS, 0.0), workdir)
        baseline = _under_callgrind(h.baseline(CHUNKS, 0.0), workdir)
        try:
            log("starting both servers under callgrind (a minute or two)")
            chatstream.start(timeout_s=600)
            baseline.start(timeout_s=600)
            h.create_users(chatstream)
            per_open = {
                "chatstream": measure(chatstream, h.tokens[0], workdir, args.opens, h.run_tag),
                "baseline": measure(baseline, "x" * 150, workdir, args.opens, h.run_tag),
            }
        finally:
            for server in (chatstream, baseline):
                if server.proc is not None:
                    server.proc.terminate()
                    server.proc.wait(timeout=60)
    ratio = per_open["chatstream"] / per_open["baseline"]
    log(
        f"instructions per opened stream ({args.opens} opens, {CHUNKS} chunks each): "
        f"ChatStream {per_open['chatstream'] / 1e6:.3f} M, baseline "
        f"{per_open['baseline'] / 1e6:.3f} M, ratio {ratio:.2f}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    result = {
        "scenario": "instructions per opened stream (callgrind)",
        "opens": args.opens,
        "chunks": CHUNKS,
        "instructions_per_open": per_open,
        "ratio": ratio,
        "machine": platform.platform(),
    }
    (args.out / f"instructions-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
