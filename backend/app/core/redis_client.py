"""The Redis clients of a process: every wait bounded, and room for every caller at once."""

from __future__ import annotations

from redis.asyncio import Redis

# A Redis that stops answering (not only one that refuses connections) must fail a call within
# this long, never hang a send or a stream.
REDIS_TIMEOUT_S = 3.0
# A client refuses a call at once ("Too many connections") when this many are in use. redis-py's
# default of 100 refused the 101st of a burst of sends arriving together, and each reader of
# another process's answer holds a connection in a blocking read.
MAX_REDIS_CONNECTIONS = 5000


def connect_redis(url: str, *, blocking_read_s: float = 0.0) -> Redis:
    """A client for `url`; `blocking_read_s`: the longest blocking read it makes (a socket
    read may take that long on top of the timeout)."""
    return Redis.from_url(
        url,
        health_check_interval=30,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        socket_timeout=blocking_read_s + REDIS_TIMEOUT_S,
        max_connections=MAX_REDIS_CONNECTIONS,
    )
