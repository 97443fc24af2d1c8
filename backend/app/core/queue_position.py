"""A way for a model waiting its turn to tell the stream its place in the queue.

The generation binds a listener for its task; the model, deeper in the same task, takes it when
it joins a queue (`queue_listener()`) and the queue calls it from whichever task moves the queue:
the waiter's place (1 = next) whenever it changes, then None when its turn comes. Outside a
generation there is no listener.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

QueueListener = Callable[[int | None], None]

_listener: ContextVar[QueueListener | None] = ContextVar("queue_listener", default=None)


def queue_listener() -> QueueListener | None:
    return _listener.get()


@contextmanager
def queue_position_listener(listener: QueueListener) -> Iterator[None]:
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)
