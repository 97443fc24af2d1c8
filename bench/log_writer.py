"""The stream log's writer alone: what it costs the process that generates the answers.

Two processes run at once, each with the same paced answers (`--answers` of them, each
appending a chunk frame `--rate` times a second, their starts spread over one interval) for
`--seconds`, with no HTTP, no database and no readers: one appends to plain in-memory buffers,
the other to the Redis stream log's buffers (scenario (e)'s Redis mode, its writer and nothing
else). Each reports its CPU time; the ratio of the two is the writer's cost on top of the
frames themselves. Side by side, both see the same machine over the same seconds; rounds repeat
it.

`--against DIR` runs the log in both processes instead: this tree's back end, and the one in
`DIR/backend` (say a `git worktree` of an older commit), to compare two versions of the writer.

    backend/.venv/bin/python bench/log_writer.py
    backend/.venv/bin/python bench/log_writer.py --against /tmp/old --rounds 5

A benchmark, not a test: it prints figures and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from common import ROOT, log
from machine import Watch, describe
from redis_store import DEFAULT_REDIS_URL

if TYPE_CHECKING:  # the back end is imported in the child processes only
    from app.streaming.buffer import StreamBuffer

ROLES = ("plain", "log")


async def _paced(
    delay_s: float, buffer: StreamBuffer, message_id: uuid.UUID, rate: float, stop_at: float
) -> None:
    """One answer: a chunk frame `rate` times a second from `delay_s` on, until `stop_at`."""
    from app.streaming.sse import encode_chunk

    await asyncio.sleep(delay_s)
    loop = asyncio.get_running_loop()
    prefix = f"id: {message_id}:"
    seq = 0
    while loop.time() < stop_at:
        buffer.append(encode_chunk(prefix, seq, "a word ", seq))
        seq += 1
        await asyncio.sleep(1 / rate)


async def _run_role(role: str, args: argparse.Namespace) -> dict[str, float]:
    """One process's run: its CPU per second while the answers append, and the log's writes."""
    from redis.asyncio import Redis

    from app.streaming.buffer import InMemoryStreamBuffer
    from app.streaming.redis_log import OWNERS_KEY, StreamLog, log_key

    redis = Redis.from_url(args.redis_url)
    token = uuid.uuid4().hex
    stream_log = StreamLog(redis, owner_token=token, done_ttl_s=60, on_lost=lambda *_: None)
    stream_log.start()
    ids = [uuid.uuid4() for _ in range(args.answers)]
    if role == "log":  # owned by this process, as claimed when each answer starts
        await redis.hset(OWNERS_KEY, mapping={str(i): token for i in ids})
    buffers: list[StreamBuffer] = [
        stream_log.buffer(i) if role == "log" else InMemoryStreamBuffer() for i in ids
    ]
    loop = asyncio.get_running_loop()
    started_cpu, started = time.process_time(), loop.time()
    spread = 1 / args.rate / args.answers
    answers = [
        _paced(k * spread, buffer, i, args.rate, started + args.seconds)
        for k, (buffer, i) in enumerate(zip(buffers, ids, strict=True))
    ]
    await asyncio.gather(*answers)
    cpu_s = time.process_time() - started_cpu
    frames = sum(buffer.next_seq for buffer in buffers)
    await stream_log.close()
    if role == "log":
        await redis.delete(*(log_key(i) for i in ids))
        await redis.hdel(OWNERS_KEY, *(str(i) for i in ids))
    await redis.aclose()
    return {
        "cpu_ms_per_s": cpu_s / args.seconds * 1000,
        "frames": frames,
        "writes": stream_log.round_trips,
    }


def _child(role: str, args: argparse.Namespace) -> None:
    import uvloop

    from app.core.gc_tuning import tune_for_serving

    tune_for_serving()  # as the server runs
    print(json.dumps(uvloop.run(_run_role(role, args))))  # noqa: T201


def _spawn(role: str, backend: Path, args: argparse.Namespace) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(backend)}
    command = [sys.executable, __file__, "--role", role, "--redis-url", args.redis_url]
    command += ["--answers", str(args.answers), "--rate", str(args.rate)]
    command += ["--seconds", str(args.seconds)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)


def _round(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, float], str]:
    """One round: the two processes at once; their figures and the machine's state."""
    here = ROOT / "backend"
    if args.against:
        pair = [("log", Path(args.against) / "backend"), ("log", here)]
    else:
        pair = [("plain", here), ("log", here)]
    with Watch() as machine:
        children = [_spawn(role, backend, args) for role, backend in pair]
        outputs = [child.communicate(timeout=args.seconds + 120)[0] for child in children]
    if any(child.returncode for child in children):
        raise SystemExit("a child process failed")
    first, second = (json.loads(out.strip().splitlines()[-1]) for out in outputs)
    return first, second, describe(machine.state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--role", choices=ROLES, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="frames per second per answer")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", help="a checkout whose writer to run beside this one's")
    args = parser.parse_args()
    if args.role:
        _child(args.role, args)
        return
    names = ("other tree", "this tree") if args.against else ("plain", "log")
    log(
        f"stream log writer: {args.answers} answers x {args.rate:g} frames/s for "
        f"{args.seconds:g} s, {names[0]} and {names[1]} side by side, {args.rounds} round(s)"
    )
    ratios = []
    for number in range(1, args.rounds + 1):
        first, second, machine = _round(args)
        ratios.append(second["cpu_ms_per_s"] / first["cpu_ms_per_s"])
        log(
            f"  round {number}: {names[0]} {first['cpu_ms_per_s']:.1f} ms CPU/s, "
            f"{names[1]} {second['cpu_ms_per_s']:.1f} ms CPU/s ({second['writes']} writes, "
            f"{second['frames']} frames): {ratios[-1]:.3f}; {machine}"
        )
    log(
        f"CPU {names[1]} / {names[0]}: median {statistics.median(ratios):.3f} "
        f"[{min(ratios):.3f}-{max(ratios):.3f}]"
    )


if __name__ == "__main__":
    main()
