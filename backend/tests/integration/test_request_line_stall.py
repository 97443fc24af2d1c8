"""No request stalls the event loop: the worst request lines leave another user's stream smooth.

A backtracking pattern in the access log's redaction once froze every stream for 14 s on one
unauthenticated `GET /healthz?pad=aaaa…`. These requests are those and their relatives, sent
while an answer streams at 20 chunks a second over a real socket with the access log on.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator

import httpx
import pytest

from app.core.gc_tuning import tune_for_serving
from tests.fixtures.accounts import new_account
from tests.fixtures.models import recording_model, words
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import start_stream, stream_params

pytestmark = pytest.mark.timeout(120)

CHUNKS = 120
DELAY_S = 0.02
# Paced at 20 ms; a stall of a whole second would be fifty chunks late. The bound leaves room
# for a busy shared machine, and the stall this guards against was over ten seconds.
MAX_CHUNK_GAP_S = 1.0
MAX_RESPONSE_S = 1.0

WORST_REQUESTS = [
    "/healthz?pad=" + "a" * 40_000,
    "/healthz?pad=" + "a" * 65_000,
    "/api/v1/chat/stream?client_message_id=" + "b" * 20_000,
    "/healthz?" + "&".join(f"p{i}=x" for i in range(5_000)),
    "/healthz?x=" + "eyJ" * 15_000,
    "/healthz?x=" + "a://" * 12_000,
    "/healthz?" + "token" * 10_000,
    "/healthz/" + "a" * 40_000,
]


@contextlib.contextmanager
def _collector_tuned_as_served() -> Iterator[None]:
    """The garbage collector as `chatstream serve` sets it. The server runs in the test's own
    process, whose heap holds pytest and every test module: untuned, a full collection of it
    (triggered by the thousands of objects one request line makes) pauses the loop ~0.1 s."""
    threshold = gc.get_threshold()
    tune_for_serving()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


async def _timed_get(client: httpx.AsyncClient, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    response = await client.get(path)
    return response.status_code, time.perf_counter() - started


async def test_worst_request_lines_leave_a_streaming_answer_smooth(
    live_server_factory: AppFactory,
) -> None:
    model = recording_model(words(CHUNKS), delay_s=DELAY_S)
    with _collector_tuned_as_served():
        async with live_server_factory(model=model, log_level="info") as server:
            async with server.client() as client, server.client() as attacker:
                account = await new_account(client)
                reader, streaming = start_stream(client, stream_params(account.access_token))
                await reader.wait_for_events(5)
                timings = [await _timed_get(attacker, path) for path in WORST_REQUESTS]
                await streaming
    assert reader.types[-1] == "complete"
    arrivals = [e.received_at for e in reader.events]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    worst = max(range(len(gaps)), key=gaps.__getitem__)
    assert gaps[worst] < MAX_CHUNK_GAP_S, (
        f"event {worst + 1} ({reader.types[worst + 1]}) came {gaps[worst]:.2f} s after the one"
        f" before; the attack requests took {[round(t, 3) for _, t in timings]} s"
    )
    for path, (status, took_s) in zip(WORST_REQUESTS, timings, strict=True):
        assert status < 500, (path[:40], status)
        assert took_s < MAX_RESPONSE_S, f"{path[:40]}… took {took_s:.2f} s"
    # The attack requests really ran while the answer streamed.
    assert len(reader.events) == CHUNKS + 2
