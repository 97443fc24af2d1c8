"""Scenario (f), recovery after `kill -9`: how long until a survivor ends the dead writer's answer.

Two ChatStream processes share Redis and the database, and no other process uses that Redis
database meanwhile (an idle third process would look for lapsed leases too, and shorten the
wait). An answer streams from the victim; a reader attaches to it on the survivor
(`GET /api/v1/chat/messages/{id}/stream`, served from the stream log); the victim gets SIGKILL.
Measured: the time from the kill to the terminal event reaching the survivor's reader, and what
was stored. Each trial has a fresh victim; each lease has its own survivor.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from common import HOST, log
from harness import Harness
from redis_store import BenchRedis
from servers import Server, start_all
from sizes import F_CHUNKS, F_INTERVAL_S
from stats import fmt, spread

RECOVERED = "chatstream_answers_recovered_total"
CHUNKS_BEFORE_KILL = 5
SOCKET_TIMEOUT_S = 60.0


class SSEWatch(threading.Thread):
    """One SSE response read in a thread: each event's JSON and when its last line arrived."""

    def __init__(self, port: int, path: str) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.path = path
        self.status = 0
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.error: str | None = None
        self.done = False
        self._changed = threading.Condition()

    def run(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=SOCKET_TIMEOUT_S)
        try:
            conn.request("GET", self.path, headers={"Accept": "text/event-stream"})
            response = conn.getresponse()
            self.status = response.status
            if response.status != 200:
                self.error = f"HTTP {response.status}: {response.read()[:200]!r}"
                return
            data: list[bytes] = []
            for _ in range(1_000_000):  # bounded: far more lines than any answer here has
                line = response.readline()
                if not line:
                    self.error = "the stream ended without a terminal event"
                    return
                line = line.rstrip(b"\r\n")
                if line.startswith(b"data:"):
                    data.append(line[5:].lstrip(b" "))
                elif not line and data:
                    payload = json.loads(b"\n".join(data))
                    data = []
                    with self._changed:
                        self.events.append((time.monotonic(), payload))
                        self._changed.notify_all()
                    if payload.get("type") in ("complete", "error"):
                        return
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
            with self._changed:
                self.done = True
                self._changed.notify_all()

    def wait_for(self, predicate: Callable[[SSEWatch], bool], timeout_s: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self) or self.done, timeout_s) and (
                predicate(self)
            )

    def count(self, kind: str) -> int:
        return sum(1 for _, e in self.events if e.get("type") == kind)

    @property
    def terminal(self) -> tuple[float, dict[str, Any]] | None:
        if self.events and self.events[-1][1].get("type") in ("complete", "error"):
            return self.events[-1]
        return None


def _stored_answer(server: Server, token: str, conversation_id: str, message_id: str) -> Any:
    conn = http.client.HTTPConnection(HOST, server.port, timeout=30)
    try:
        conn.request(
            "GET",
            f"/api/v1/chat/conversations/{conversation_id}/messages",
            headers={"Authorization": f"Bearer {token}"},
        )
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        return None
    items = json.loads(body)["items"]
    return next((m for m in items if m["id"] == message_id), None)


def kill_once(h: Harness, victim: Server, survivor: Server, lease_s: float) -> dict[str, Any]:
    path = h.paths(1)[0]
    token = path.rsplit("token=", 1)[1]
    writer = SSEWatch(victim.port, path)
    writer.start()
    if not writer.wait_for(lambda w: w.count("chunk") >= 1, 30):
        raise RuntimeError(f"(f) the victim's stream never started: {writer.error}")
    start = writer.events[0][1]
    message_id, conversation_id = start["message_id"], start["conversation_id"]
    reader = SSEWatch(survivor.port, f"/api/v1/chat/messages/{message_id}/stream?token={token}")
    reader.start()
    if not reader.wait_for(lambda r: r.count("chunk") >= CHUNKS_BEFORE_KILL, 30):
        raise RuntimeError(f"(f) the survivor's reader got no chunks: {reader.error}")
    recovered0 = survivor.metrics().get(RECOVERED, 0.0)
    assert victim.proc is not None
    killed_at = time.monotonic()
    os.kill(victim.pid, signal.SIGKILL)
    victim.proc.wait(timeout=10)
    ended = reader.wait_for(lambda r: r.terminal is not None, lease_s + 30)
    reader.join(timeout=5)
    writer.join(timeout=5)
    terminal = reader.terminal
    chunks = [e["content"] for _, e in reader.events if e.get("type") == "chunk"]
    stored = _stored_answer(survivor, token, conversation_id, message_id)
    return {
        "kill_to_terminal_s": terminal[0] - killed_at if ended and terminal else None,
        "terminal": None if terminal is None else terminal[1],
        "reader_error": None if ended else reader.error,
        # Chunks the survivor's reader got from the log, and chunks the victim's own reader got
        # (in memory): the difference had not reached the log when the process died.
        "log_chunks": len(chunks),
        "victim_reader_chunks": writer.count("chunk"),
        "stored_status": None if stored is None else stored["status"],
        "stored_error_code": None if stored is None else stored["error_code"],
        "stored_matches_log": stored is not None and stored["content"] == "".join(chunks),
        "answers_recovered": survivor.metrics().get(RECOVERED, 0.0) - recovered0,
    }


def scenario_f(h: Harness, store: BenchRedis) -> dict[str, Any]:
    s = h.sizes
    out: dict[str, Any] = {
        "redis_url": store.url,
        "trials_per_lease": s.f_trials,
        "leases": {},
    }
    for lease_s in s.f_leases_s:
        extra = {"STREAM_OWNER_LEASE_S": str(lease_s)}

        def server(name: str, extra: dict[str, str] = extra) -> Server:
            return h.chatstream_redis(name, F_CHUNKS, F_INTERVAL_S, store.url, **extra)

        survivor = server(f"survivor-{lease_s:g}s")
        trials: list[dict[str, Any]] = []
        victims: list[Server] = []
        try:
            for trial in range(s.f_trials):
                victim = server(f"victim-{lease_s:g}s-{trial + 1}")
                victims.append(victim)
                start_all([victim, survivor] if trial == 0 else [victim])
                time.sleep(0.5)  # both processes' background tasks running
                r = kill_once(h, victim, survivor, lease_s)
                trials.append(r)
                term = r["terminal"] or {}
                log(
                    f"  f lease {lease_s:g} s, trial {trial + 1}: kill -9 -> terminal event on "
                    f"the survivor in {fmt(r['kill_to_terminal_s'], '.2f')} s "
                    f"({term.get('type')} {term.get('code')}, retryable "
                    f"{term.get('retryable')}); stored {r['stored_status']}, matches the log "
                    f"{r['stored_matches_log']}; chunks: {r['log_chunks']} in the log, "
                    f"{r['victim_reader_chunks']} at the victim's own reader"
                )
        finally:
            for victim in victims:
                victim.stop()
            survivor.stop()
        times = [t["kill_to_terminal_s"] for t in trials]
        out["leases"][f"{lease_s:g}"] = {
            "lease_s": lease_s,
            "trials": trials,
            "kill_to_terminal_s": spread(times),
            "all_ended": all(t is not None for t in times),
            "all_stored": all(
                t["stored_status"] == "interrupted" and t["stored_matches_log"] for t in trials
            ),
        }
    return out
