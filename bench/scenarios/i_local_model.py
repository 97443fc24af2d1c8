"""Scenario (i), the real model's pace: ChatStream's local model through the whole pipeline
against llama.cpp called directly with the same prompt and settings, in the same run.

ChatStream runs as the embedded default (SQLite, `LLM_MODEL=local`, the bundled SmolLM2 GGUF);
each request is `GET /api/v1/chat/stream` (token check, the turn stored, the orchestrator, the
model on its thread, the SSE response) for a new conversation of one user, timed by a client
on its own connection. The direct side (`local_direct.py`, a process of its own) loads the same
GGUF with the same settings and calls `Llama.create_chat_completion` with the messages the app
builds. Both sample at temperature 0, so both write the same tokens: the texts are compared,
which also shows that the prompts were the same. The two take turns (the first of each round
alternates), and each answer is timed under the machine's state.

Figures per answer: the time to the first token (from the request, or from the call) and the
decode rate, tokens after the first / time from the first to the last. The ratios pair each
round's two answers; the median over the rounds is the figure.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import time
import urllib.parse
from typing import Any

from common import BENCH, HOST, PY, log, sign_up
from harness import Harness
from machine import Watch, describe
from servers import Server
from stats import fmt, spread

PROMPT = "Write a short story about a lighthouse keeper and a lost seagull."
DISPLAY_NAME = "Bench"
SOCKET_TIMEOUT_S = 300.0


def local_model_env(h: Harness, max_tokens: int, threads: int) -> dict[str, str]:
    """The embedded default with the local model, deterministic, patient, and the same for both
    sides (the direct side reads the same settings)."""
    return h.chatstream_env(
        1,
        0.0,
        LLM_MODEL="local",
        LLM_MAX_TOKENS=str(max_tokens),
        LLM_TEMPERATURE="0",
        LOCAL_MODEL_THREADS=str(threads),
        STREAM_IDLE_TIMEOUT_S="300",
    )


class DirectModel:
    """local_direct.py as a process: the model loaded once, one answer per request."""

    def __init__(self, env: dict[str, str], h: Harness) -> None:
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [PY, str(BENCH / "local_direct.py")],
            env=env,
            cwd=h.workdir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        ready = self._line()
        if not ready.get("ready"):
            raise RuntimeError(f"the direct model did not start: {ready}")

    def _line(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the direct model process ended")
        value: dict[str, Any] = json.loads(line)
        return value

    def answer(self, message: str) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"message": message, "display_name": DISPLAY_NAME}))
        self._proc.stdin.write("\n")
        self._proc.stdin.flush()
        return self._line()

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def register(server: Server) -> str:
    """One user named DISPLAY_NAME (the direct side's prompt names the same user)."""
    email = f"pace-{time.monotonic_ns()}@example.com"
    return sign_up(server.port, email, "bench-password-pace", DISPLAY_NAME)


def through_chatstream(server: Server, token: str, message: str, n: int) -> dict[str, Any]:
    """One answer over HTTP and SSE, timed as a client sees it."""
    query = urllib.parse.urlencode(
        {
            "message": message,
            "client_message_id": f"pace-{n}-{time.monotonic_ns()}",
            "token": token,
        }
    )
    texts: list[str] = []
    first_at = last_at = 0.0
    terminal: dict[str, Any] | None = None
    conn = http.client.HTTPConnection(HOST, server.port, timeout=SOCKET_TIMEOUT_S)
    started = time.perf_counter()
    try:
        conn.request(
            "GET",
            f"/api/v1/chat/stream?{query}",
            headers={"Accept": "text/event-stream"},
        )
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {response.read()[:300]!r}")
        for _ in range(1_000_000):  # bounded: far more lines than any answer here has
            line = response.readline()
            if not line:
                break
            if not line.startswith(b"data:"):
                continue
            event = json.loads(line[5:])
            if event["type"] == "chunk":
                last_at = time.perf_counter()
                if not texts:
                    first_at = last_at
                texts.append(event["content"])
            elif event["type"] in ("complete", "error"):
                terminal = event
                break
    finally:
        conn.close()
    if terminal is None or terminal["type"] != "complete":
        raise RuntimeError(f"the answer did not complete: {terminal}")
    return {
        "ttft_ms": (first_at - started) * 1000 if texts else None,
        "tokens": len(texts),
        "first_to_last_s": last_at - first_at if texts else None,
        "text": "".join(texts),
    }


def decode_rate(answer: dict[str, Any]) -> float | None:
    """Tokens after the first per second of the time from the first to the last."""
    span = answer.get("first_to_last_s")
    return (answer["tokens"] - 1) / span if span and answer["tokens"] > 1 else None


def measured(answer: dict[str, Any], watch: Watch) -> dict[str, Any]:
    text = answer.pop("text")
    return {
        **answer,
        "tokens_per_s": decode_rate(answer),
        "machine": watch.state,
        "text": text,
    }


def scenario_i(h: Harness, server: Server, env: dict[str, str]) -> dict[str, Any]:
    sizes = h.sizes
    token = register(server)
    direct = DirectModel(env, h)
    runs: dict[str, list[dict[str, Any]]] = {"chatstream": [], "direct": []}
    try:
        # Warm-up, one each: the first answer of either pays for loading and first allocations.
        through_chatstream(server, token, PROMPT, 0)
        direct.answer(PROMPT)
        for index in range(sizes.i_rounds):
            order = ("chatstream", "direct") if index % 2 == 0 else ("direct", "chatstream")
            for side in order:
                with Watch() as watch:
                    answer = (
                        through_chatstream(server, token, PROMPT, index + 1)
                        if side == "chatstream"
                        else direct.answer(PROMPT)
                    )
                runs[side].append(measured(answer, watch))
                last = runs[side][-1]
                log(
                    f"(i) round {index + 1} {side:10s}: first token {fmt(last['ttft_ms'])} ms, "
                    f"{last['tokens']} tokens at {fmt(last['tokens_per_s'])}/s; "
                    f"{describe(watch.state)}"
                )
    finally:
        direct.close()
    return summarise(runs)


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    pairs = list(zip(runs["chatstream"], runs["direct"], strict=True))
    rate_ratios = [
        c["tokens_per_s"] / d["tokens_per_s"]
        for c, d in pairs
        if c["tokens_per_s"] and d["tokens_per_s"]
    ]
    ttft_extra_ms = [
        c["ttft_ms"] - d["ttft_ms"]
        for c, d in pairs
        if c["ttft_ms"] is not None and d["ttft_ms"] is not None
    ]
    texts = {run["text"] for side in runs.values() for run in side}
    for side in runs.values():
        for run in side:
            run.pop("text")
    return {
        "prompt": PROMPT,
        "same_text": len(texts) == 1,
        "tokens": sorted({run["tokens"] for side in runs.values() for run in side}),
        "chatstream": {
            "ttft_ms": spread([r["ttft_ms"] for r in runs["chatstream"]]),
            "tokens_per_s": spread([r["tokens_per_s"] for r in runs["chatstream"]]),
        },
        "direct": {
            "ttft_ms": spread([r["ttft_ms"] for r in runs["direct"]]),
            "tokens_per_s": spread([r["tokens_per_s"] for r in runs["direct"]]),
        },
        "rate_ratio": spread(list(rate_ratios)),
        "ttft_extra_ms": spread(list(ttft_extra_ms)),
        "runs": runs,
    }
