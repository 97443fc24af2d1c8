"""Prometheus metrics after real streams: each moves by exactly what happened; summed over the
workers of `chatstream serve --workers 2`; on METRICS_PORT only when it is set; and the Grafana
dashboard queries only metrics that exist.

The default registry is process-global (other tests move it too), so every check compares a
reading before with one after.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.metrics import MetricWrapperBase

import app.core.metrics as metrics_module
from tests.fixtures.accounts import new_account, new_client_id
from tests.fixtures.database import FailingAnswerSaves
from tests.fixtures.environment import CHATSTREAM_BIN, REPO_DIR, clean_env, free_port
from tests.fixtures.models import directed_model, scripted_model
from tests.fixtures.observability import Metrics, read_metrics
from tests.fixtures.processes import stop_process
from tests.fixtures.rate_limits import redis_target
from tests.fixtures.server import AppFactory
from tests.fixtures.streams import read_stream, start_stream, stream_params
from tests.fixtures.waiting import poll_until, poll_value, wait_for_port

pytestmark = pytest.mark.timeout(120)

DASHBOARD = REPO_DIR / "deploy" / "grafana" / "chatstream-dashboard.json"
CHAT = {"agent": "conversational"}


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' histogram_quantile over (upper bound, cumulative count) pairs."""
    buckets = sorted(buckets)
    total = buckets[-1][1]
    assert total > 0
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-9)
        lower, below = bound, count
    return lower


def bucket_deltas(after: Metrics, before: Metrics, name: str) -> list[tuple[float, float]]:
    earlier = before.buckets(name)
    later = after.buckets(name)
    return sorted((bound, count - earlier.get(bound, 0.0)) for bound, count in later.items())


# One process -----------------------------------------------------------------------------------


async def test_completed_streams_move_counts_histograms_and_saves_by_their_number(
    sqlite_server_factory: AppFactory,
) -> None:
    text = "one two three four"  # four chunks
    async with sqlite_server_factory(model=scripted_model(text, delay_s=0.01)) as server:
        async with server.client() as client:
            account = await new_account(client)
            before = await read_metrics(client)
            for _ in range(3):
                stream = await read_stream(client, stream_params(account.access_token))
                assert stream.types == ["start"] + ["chunk"] * 4 + ["complete"]
            after = await read_metrics(client)

    complete = {**CHAT, "status": "complete"}
    assert after.delta(before, "chatstream_streams_total", **complete) == 3
    assert after.delta(before, "chatstream_streams_total") == 3
    assert after.delta(before, "chatstream_stream_duration_seconds_count", **complete) == 3
    assert after.delta(before, "chatstream_stream_duration_seconds_sum", **complete) >= 3 * 0.03
    assert after.delta(before, "chatstream_stream_time_to_first_chunk_seconds_count", **CHAT) == 3
    assert after.delta(before, "chatstream_stream_chunks_count", **CHAT) == 3
    assert after.delta(before, "chatstream_stream_chunks_sum", **CHAT) == 12
    assert after.delta(before, "chatstream_db_saves_total", outcome="saved") == 3
    assert after.delta(before, "chatstream_db_saves_total") == 3
    assert after.delta(before, "chatstream_stream_errors_total") == 0
    assert after.value("chatstream_active_streams") == before.value("chatstream_active_streams")

    # Enough buckets, from fast scripted answers to long local ones, for p50/p95/p99.
    for name, low, high in (
        ("chatstream_stream_duration_seconds", 0.1, 60),
        ("chatstream_stream_time_to_first_chunk_seconds", 0.01, 5),
    ):
        bounds = after.bucket_bounds(name)
        finite = [b for b in bounds if not math.isinf(b)]
        assert len(finite) >= 10 and finite[0] <= low and finite[-1] >= high, (name, bounds)
        assert math.inf in bounds
    durations = bucket_deltas(after, before, "chatstream_stream_duration_seconds")
    assert durations[-1][1] == 3  # +Inf holds every observation
    for q in (0.5, 0.95, 0.99):
        # These streams took tens of milliseconds: the buckets resolve that (under load, < 1 s).
        assert 0 < histogram_quantile(q, durations) <= 1.0


async def test_failed_streams_are_counted_by_error_code(sqlite_server_factory: AppFactory) -> None:
    async with sqlite_server_factory(model=directed_model(), stream_idle_timeout_s=0.3) as server:
        async with server.client() as client:
            account = await new_account(client)
            token = account.access_token
            before = await read_metrics(client)
            for message, code in (
                ("[fail@2]", "llm_error"),
                ("[fail@0]", "llm_error"),
                ("[stall@1]", "timeout"),
            ):
                stream = await read_stream(client, stream_params(token, message))
                assert stream.terminal["code"] == code
    # A server of its own for the cancel, so its stall cannot time out first.
    async with sqlite_server_factory(model=directed_model()) as server:
        async with server.client() as client:
            stalled, task = start_stream(client, stream_params(token, "[stall@1]"))
            await poll_until(lambda: stalled.count("chunk") == 1, 10)
            await client.post(
                f"/api/v1/chat/messages/{stalled.message_id}/cancel", headers=account.auth
            )
            await asyncio.wait_for(task, 10)
            assert stalled.terminal["code"] == "cancelled"
            after = await read_metrics(client)

    assert after.delta(before, "chatstream_stream_errors_total", code="llm_error") == 2
    assert after.delta(before, "chatstream_stream_errors_total", code="timeout") == 1
    assert after.delta(before, "chatstream_stream_errors_total") == 3  # a cancel is no error
    assert after.delta(before, "chatstream_streams_total", **CHAT, status="error") == 3
    assert after.delta(before, "chatstream_streams_total", **CHAT, status="cancelled") == 1
    # No first chunk, no time to first chunk: only the two streams that had one observe it.
    assert after.delta(before, "chatstream_stream_time_to_first_chunk_seconds_count") == 3
    assert after.delta(before, "chatstream_db_saves_total", outcome="saved") == 4


async def test_active_streams_rise_during_stalled_streams_and_fall_back_after(
    sqlite_server_factory: AppFactory,
) -> None:
    async with sqlite_server_factory(model=directed_model()) as server:
        async with server.client() as client:
            account = await new_account(client)
            before = await read_metrics(client)
            base_active = before.value("chatstream_active_streams")
            base_open = before.value("chatstream_sse_connections")
            readers = [
                start_stream(client, stream_params(account.access_token, "[stall@1]"))
                for _ in range(2)
            ]
            await poll_until(lambda: all(s.count("chunk") == 1 for s, _ in readers), 10)
            during = await read_metrics(client)
            assert during.value("chatstream_active_streams") == base_active + 2
            assert during.value("chatstream_sse_connections") == base_open + 2
            for stream, _ in readers:
                await client.post(
                    f"/api/v1/chat/messages/{stream.message_id}/cancel", headers=account.auth
                )
            await asyncio.wait_for(asyncio.gather(*(task for _, task in readers)), 10)
            settled = await poll_value(
                lambda: read_metrics(client),
                lambda m: m.value("chatstream_sse_connections") == base_open,
                timeout_s=5,
            )
    assert settled.value("chatstream_active_streams") == base_active


async def test_rate_limit_rejections_are_counted_by_limit(
    sqlite_server_factory: AppFactory,
) -> None:
    async with sqlite_server_factory(
        model=directed_model(), rate_limit_concurrent_streams=1, rate_limit_messages_per_hour=2
    ) as server:
        async with server.client() as client:
            account = await new_account(client)
            before = await read_metrics(client)
            stalled, task = start_stream(client, stream_params(account.access_token, "[stall@1]"))
            await poll_until(lambda: stalled.count("chunk") == 1, 10)
            token_refused = await client.post("/api/v1/chat/stream-token", headers=account.auth)
            stream_refused = await client.get(
                "/api/v1/chat/stream", params=stream_params(account.access_token)
            )
            assert token_refused.status_code == stream_refused.status_code == 429
            await client.post(
                f"/api/v1/chat/messages/{stalled.message_id}/cancel", headers=account.auth
            )
            await asyncio.wait_for(task, 10)
            body = {"message": "plain", "client_message_id": new_client_id()}
            sent = await client.post("/api/v1/chat/message", json=body, headers=account.auth)
            assert sent.status_code == 200  # the second message of the hour
            body = {"message": "plain", "client_message_id": new_client_id()}
            over = await client.post("/api/v1/chat/message", json=body, headers=account.auth)
            assert over.status_code == 429
            after = await read_metrics(client)

    name = "chatstream_rate_limit_rejections_total"
    assert after.delta(before, name, limit="concurrent_streams") == 2
    assert after.delta(before, name, limit="messages_per_hour") == 1


async def test_a_save_that_fails_is_counted_as_queued(
    sqlite_server_factory: AppFactory, sqlite_url: str
) -> None:
    async with (
        FailingAnswerSaves.from_url(sqlite_url) as database,
        sqlite_server_factory(model=scripted_model("Saved later."), database=database) as server,
    ):
        async with server.client() as client:
            account = await new_account(client)
            before = await read_metrics(client)
            database.failing = True
            stream = await read_stream(client, stream_params(account.access_token))
            database.failing = False
            after = await read_metrics(client)
    assert stream.types[-1] == "complete"
    assert after.delta(before, "chatstream_db_saves_total", outcome="queued") == 1
    assert after.delta(before, "chatstream_db_saves_total", outcome="saved") == 0


# Several worker processes ----------------------------------------------------------------------


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return clean_env(
        DATA_DIR=str(data_dir),
        LLM_MODEL="scripted",
        SCRIPTED_CHUNK_DELAY_S="0",
        SCRIPTED_TEXT="Counted by whichever worker served it.",
        ENABLE_STREAMING="true",
        LOG_LEVEL="warning",
        RATE_LIMIT_MESSAGES_PER_HOUR="1000",
        RATE_LIMIT_CONCURRENT_STREAMS="100",
        **extra,
    )


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database made by `chatstream migrate`, shared by the servers below."""
    data_dir = tmp_path_factory.mktemp("served")
    migrated = subprocess.run(
        [str(CHATSTREAM_BIN), "migrate"],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    return f"sqlite+aiosqlite:///{data_dir / 'chatstream.db'}"


def _serve(
    data_dir: Path, port: int, workers: int = 2, **extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`chatstream serve --workers N` in a process of its own."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(CHATSTREAM_BIN), "serve", "--port", str(port), "--workers", str(workers)],
        env=_env(data_dir, **extra),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process, 60)
        yield process
    finally:
        stop_process(process)
        log.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Several workers need Redis (each answer's stream log); `serve` refuses them without."""
    with redis_target() as target:
        yield target.url


@pytest.fixture
def two_workers(
    tmp_path: Path, migrated_database: str, redis_url: str
) -> Iterator[tuple[str, Path]]:
    port = free_port()
    data_dir = tmp_path / "data"
    for _ in _serve(data_dir, port, DATABASE_URL=migrated_database, REDIS_URL=redis_url):
        yield f"http://127.0.0.1:{port}", data_dir


@pytest.fixture
def two_workers_with_metrics_port(
    tmp_path: Path, migrated_database: str, redis_url: str
) -> Iterator[tuple[str, str]]:
    port, metrics_port = free_port(), free_port()
    extra = {
        "METRICS_PORT": str(metrics_port),
        "DATABASE_URL": migrated_database,
        "REDIS_URL": redis_url,
    }
    for _ in _serve(tmp_path / "data", port, **extra):
        wait_for_port(metrics_port, None, 10)
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics"


def _workers_that_streamed(data_dir: Path) -> set[str]:
    """Worker pids with histogram samples (only a finished stream observes a histogram)."""
    directory = data_dir / "prometheus"
    return {p.stem.rsplit("_", 1)[-1] for p in directory.glob("histogram_*.db")}


async def _send_streams(base_url: str, count: int) -> None:
    """`count` streams, each on a connection of its own, a few at a time (spread over workers)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await poll_value(lambda: client.get("/healthz"), lambda r: r.status_code == 200, 30)
        account = await new_account(client)

    async def one() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as fresh:
            stream = await read_stream(fresh, stream_params(account.access_token))
            assert stream.types[-1] == "complete", stream.types

    for start in range(0, count, 4):
        await asyncio.gather(*(one() for _ in range(min(4, count - start))))


async def test_two_workers_report_the_sum_of_their_streams_on_metrics(
    two_workers: tuple[str, Path],
) -> None:
    base_url, data_dir = two_workers
    sent = 0
    while len(_workers_that_streamed(data_dir)) < 2:  # until both workers served some
        assert sent < 80, "every stream went to one worker; cannot check the sum"
        await _send_streams(base_url, 8)
        sent += 8
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        readings = [await read_metrics(client) for _ in range(4)]  # whichever worker answers
    for reading in readings:
        assert reading.value("chatstream_streams_total", status="complete") == sent
        assert reading.value("chatstream_stream_duration_seconds_count") == sent
        assert reading.value("chatstream_db_saves_total", outcome="saved") == sent
        assert reading.value("chatstream_active_streams") == 0


async def test_with_metrics_port_metrics_leave_the_api_port_for_their_own(
    two_workers_with_metrics_port: tuple[str, str],
) -> None:
    base_url, metrics_url = two_workers_with_metrics_port
    await _send_streams(base_url, 6)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        hidden = await client.get("/metrics")
        assert hidden.status_code == 404
        assert hidden.json()["error"]["code"] == "not_found"
        reading = await read_metrics(client, metrics_url)
    assert reading.value("chatstream_streams_total", status="complete") == 6
    assert reading.value("chatstream_stream_chunks_count") == 6


async def test_one_process_keeps_its_metrics_in_memory_and_serves_them_on_its_port(
    tmp_path: Path,
) -> None:
    """No multiprocess files for one worker (each sample was a locked write to a mapped file):
    the metrics port reads the process's own registry."""
    port, metrics_port = free_port(), free_port()
    data_dir = tmp_path / "data"
    # Left over from an earlier several-worker run on the same DATA_DIR, or set by the shell.
    extra = {"METRICS_PORT": str(metrics_port), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "old")}
    for _ in _serve(data_dir, port, workers=1, **extra):
        wait_for_port(metrics_port, None, 10)
        await _send_streams(f"http://127.0.0.1:{port}", 3)
        async with httpx.AsyncClient(timeout=30) as client:
            reading = await read_metrics(client, f"http://127.0.0.1:{metrics_port}/metrics")
        assert reading.value("chatstream_streams_total", status="complete") == 3
        assert reading.value("chatstream_stream_chunks_count") == 3
        assert not (data_dir / "prometheus").exists()
        assert not (tmp_path / "old").exists()


# The Grafana dashboard ---------------------------------------------------------------------------


def _exposed_sample_names() -> set[str]:
    names: set[str] = set()
    for value in vars(metrics_module).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            if family.type == "counter":
                names |= {f"{family.name}_total"}
            elif family.type == "histogram":
                names |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
            else:
                names.add(family.name)
    return names


def _targets(node: Any) -> Iterator[tuple[str, str]]:
    """(panel title, expression) for every query, panels nested in rows included."""
    if isinstance(node, dict):
        for panel in node.get("panels", []):
            for target in panel.get("targets", []):
                if "expr" in target:
                    yield panel.get("title", ""), target["expr"]
            yield from _targets(panel)


def test_grafana_dashboard_queries_existing_metrics_and_quantiles_from_histograms() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    targets = list(_targets(dashboard))
    assert len(targets) >= 8
    exposed = _exposed_sample_names()
    used = {name for _, expr in targets for name in re.findall(r"\bchatstream_\w+", expr)}
    assert used and used <= exposed, sorted(used - exposed)
    # The metrics the rollout is judged on all have a panel.
    for wanted in (
        "chatstream_streams_total",
        "chatstream_stream_errors_total",
        "chatstream_stream_duration_seconds_bucket",
        "chatstream_stream_time_to_first_chunk_seconds_bucket",
        "chatstream_db_saves_total",
        "chatstream_active_streams",
        "chatstream_rate_limit_rejections_total",
    ):
        assert wanted in used, wanted
    histograms = {n.removesuffix("_bucket") for n in exposed if n.endswith("_bucket")}
    quantile_panels = {title for title, _ in targets if re.search(r"\bp(95|99)\b", title)}
    assert len(quantile_panels) >= 2, quantile_panels
    for title in quantile_panels:
        exprs = [e for t, e in targets if t == title]
        quantile = re.compile(r"histogram_quantile\(([\d.]+)")
        quantiles = {float(q) for e in exprs for q in quantile.findall(e)}
        # Each percentile in the title is a histogram_quantile over a histogram's buckets.
        for percentile in re.findall(r"\bp(\d\d)\b", title):
            assert int(percentile) / 100 in quantiles, (title, exprs)
        for expr in exprs:
            found = re.findall(r"histogram_quantile\([\d.]+,.*?\b(chatstream_\w+)_bucket", expr)
            assert found and set(found) <= histograms, (title, expr)
