"""The run's Redis (scenarios e and f): found or not, its CPU, and removing the keys the run made.

The run uses one Redis database of its own (`--redis-url`, default db 14 on 127.0.0.1), never
flushes it, and at the end deletes only the keys that were not there when it began. Without a
reachable Redis the Redis scenarios are skipped, with the reason, and the rest runs.
"""

from __future__ import annotations

import statistics
from typing import Any

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
SCAN_COUNT = 1000


class BenchRedis:
    def __init__(self, url: str, client: Any, keys_at_start: set[bytes]) -> None:
        self.url = url
        self._client = client
        self.keys_at_start = keys_at_start

    @classmethod
    def find(cls, url: str) -> tuple[BenchRedis | None, str]:
        """The Redis at `url`, or None and why not."""
        try:
            import redis
        except ImportError:
            return (
                None,
                "the redis package is not installed (run with backend/.venv/bin/python)",
            )
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            client.ping()
            keys = set(client.scan_iter(count=SCAN_COUNT))
        except (redis.RedisError, OSError) as exc:
            client.close()
            return None, f"no Redis at {url} ({type(exc).__name__}: {exc})"
        return cls(url, client, keys), ""

    def cpu_s(self) -> float | None:
        """The Redis server's CPU time so far (user + system, every client's work)."""
        try:
            info = self._client.info("cpu")
        except Exception:  # context only: a figure missing is no failure
            return None
        return float(info.get("used_cpu_user", 0.0)) + float(info.get("used_cpu_sys", 0.0))

    def log_memory(self, limit: int = 20) -> dict[str, float | int | None]:
        """Redis's memory for the answers' stream logs made in this run (`MEMORY USAGE` of up to
        `limit` of them, every entry counted): per log and per entry (one SSE frame each)."""
        per_log: list[int] = []
        per_entry: list[float] = []
        for key in self._client.scan_iter(match="chatstream:log:*", count=SCAN_COUNT):
            if key in self.keys_at_start:
                continue
            used, entries = self._client.memory_usage(key, samples=0), self._client.xlen(key)
            if used and entries:
                per_log.append(int(used))
                per_entry.append(used / entries)
            if len(per_log) >= limit:
                break
        return {
            "logs_measured": len(per_log),
            "bytes_per_log": statistics.median(per_log) if per_log else None,
            "bytes_per_frame": statistics.median(per_entry) if per_entry else None,
        }

    def cleanup(self) -> int:
        """Delete the keys this run made (those not there at the start); how many."""
        made = [k for k in self._client.scan_iter(count=SCAN_COUNT) if k not in self.keys_at_start]
        for start in range(0, len(made), 500):
            self._client.delete(*made[start : start + 500])
        self._client.close()
        return len(made)
