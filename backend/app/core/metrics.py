"""Prometheus metrics, one module. Correct under several uvicorn workers (multiprocess mode).

With PROMETHEUS_MULTIPROC_DIR set (`chatstream serve --workers N` sets it), each process writes
its samples to files there and /metrics aggregates them; otherwise the default registry is used.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# Seconds: from fast scripted answers to long local generations, so p50/p95/p99 are meaningful.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 300)
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30)
CHUNK_BUCKETS = (0, 1, 5, 10, 25, 50, 100, 200, 400, 800, 1600, 3200, 6400)

STREAM_DURATION = Histogram(
    "chatstream_stream_duration_seconds",
    "Time from the start of a generation to its end.",
    ["agent", "status"],
    buckets=DURATION_BUCKETS,
)
STREAM_TTFT = Histogram(
    "chatstream_stream_time_to_first_chunk_seconds",
    "Time from the start of a generation to its first chunk.",
    ["agent"],
    buckets=TTFT_BUCKETS,
)
STREAM_CHUNKS = Histogram(
    "chatstream_stream_chunks",
    "Chunks per generation.",
    ["agent"],
    buckets=CHUNK_BUCKETS,
)
STREAMS_TOTAL = Counter(
    "chatstream_streams_total", "Generations by how they ended.", ["agent", "status"]
)
STREAM_ERRORS = Counter(
    "chatstream_stream_errors_total", "Generations that ended in an error, by code.", ["code"]
)
ACTIVE_STREAMS = Gauge(
    "chatstream_active_streams",
    "Generations in flight.",
    multiprocess_mode="livesum",
)
OPEN_CONNECTIONS = Gauge(
    "chatstream_sse_connections",
    "Open SSE connections.",
    multiprocess_mode="livesum",
)
DB_SAVES = Counter(
    "chatstream_db_saves_total",
    "Final saves of answers: saved now, queued for the worker, saved by the worker after a "
    "retry, or lost.",
    ["outcome"],
)
RATE_LIMIT_REJECTIONS = Counter(
    "chatstream_rate_limit_rejections_total", "Requests refused by a rate limit.", ["limit"]
)

# Scaled mode: the stream log in Redis, its owner leases and the answers recovered from it.
LOG_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
STREAM_LOG_LAG = Histogram(
    "chatstream_stream_log_lag_seconds",
    "Time from a frame's append to its write in the Redis stream log.",
    buckets=LOG_LAG_BUCKETS,
)
STREAM_LOG_ROUND_TRIPS = Counter(
    "chatstream_stream_log_round_trips_total", "Batched writes to the Redis stream log."
)
STREAM_LOG_FRAMES = Counter(
    "chatstream_stream_log_frames_total", "Frames written to the Redis stream log."
)
STREAM_LOG_FAILURES = Counter(
    "chatstream_stream_log_failures_total", "Batched writes to the stream log that failed."
)
LEASES_LOST = Counter(
    "chatstream_stream_leases_lost_total",
    "Answers this process stopped because another process took them over.",
)
ANSWERS_RECOVERED = Counter(
    "chatstream_answers_recovered_total",
    "Answers of a dead process ended and stored from the stream log by a survivor.",
)
CHECKPOINTS = Counter(
    "chatstream_stream_checkpoints_total", "Partial answers checkpointed to the database."
)


def render_latest() -> tuple[bytes, str]:
    """The exposition text, aggregated over all processes in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
