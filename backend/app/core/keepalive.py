"""A way for slow-but-alive work (a model waiting its turn) to tell the stream it is not stalled.

The generation binds a callback for its task; code deeper in the same task calls keep_alive()
while it waits, and the idle timeout starts over. Outside a generation it does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_callback: ContextVar[Callable[[], None] | None] = ContextVar("stream_keepalive", default=None)


def keep_alive() -> None:
    callback = _callback.get()
    if callback is not None:
        callback()


@contextmanager
def keepalive_callback(callback: Callable[[], None]) -> Iterator[None]:
    token = _callback.set(callback)
    try:
        yield
    finally:
        _callback.reset(token)
