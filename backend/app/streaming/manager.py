"""This process's generations: start, find by answer id, keep finished ones a while, end all."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

from app.streaming.buffer import InMemoryStreamBuffer, StreamBuffer
from app.streaming.generation import (
    Continued,
    Finaliser,
    Generation,
    RemoteReaders,
    StopReason,
)


class StreamManager:
    def __init__(
        self,
        *,
        idle_timeout_s: float,
        disconnect_grace_s: float,
        buffer_ttl_s: float,
        buffer_factory: Callable[[uuid.UUID, int], StreamBuffer] = (
            lambda _, first_seq: InMemoryStreamBuffer(first_seq)
        ),
        remote_readers: RemoteReaders | None = None,
    ) -> None:
        self._idle_timeout_s = idle_timeout_s
        self._grace_s = disconnect_grace_s
        self._ttl_s = buffer_ttl_s
        self._buffer_factory = buffer_factory
        self._remote_readers = remote_readers
        self._generations: dict[uuid.UUID, Generation] = {}
        # Those not finished: what a checkpoint or a shutdown walks, every STREAM_CHECKPOINT_S.
        # Finished ones stay in `_generations` for STREAM_BUFFER_TTL_S, tens of thousands under
        # load, and walking them all blocked the loop a millisecond per thousand.
        self._running: dict[uuid.UUID, Generation] = {}

    def get(self, message_id: uuid.UUID) -> Generation | None:
        return self._generations.get(message_id)

    def running(self) -> list[Generation]:
        return [g for g in self._running.values() if not g.done.is_set()]

    def stop(self, message_id: uuid.UUID, reason: StopReason) -> None:
        """Stop the answer if this process generates it (a stop from another process)."""
        generation = self._generations.get(message_id)
        if generation is not None:
            generation.stop(reason)

    def start(
        self,
        *,
        message_id: uuid.UUID,
        conversation_id: uuid.UUID,
        user_message_id: uuid.UUID,
        chunks: AsyncIterator[str],
        finalise: Finaliser,
        continued: Continued | None = None,
    ) -> Generation:
        first_seq = continued.first_seq if continued is not None else 0
        generation = Generation(
            message_id=message_id,
            conversation_id=conversation_id,
            user_message_id=user_message_id,
            chunks=chunks,
            finalise=finalise,
            buffer=self._buffer_factory(message_id, first_seq),
            continued=continued,
            idle_timeout_s=self._idle_timeout_s,
            disconnect_grace_s=self._grace_s,
            remote_readers=self._remote_readers,
        )
        self._generations[message_id] = generation
        self._running[message_id] = generation
        generation.start()
        task = generation.task
        assert task is not None
        task.add_done_callback(lambda _: self._retain_then_forget(generation))
        return generation

    def _retain_then_forget(self, generation: Generation) -> None:
        if self._running.get(generation.message_id) is generation:
            del self._running[generation.message_id]
        # Finished buffers stay a while so a late reconnect resumes exactly, then go (unless a
        # Continue of the same answer has taken the place meanwhile).
        asyncio.get_running_loop().call_later(self._ttl_s, self._forget, generation)

    def _forget(self, generation: Generation) -> None:
        if self._generations.get(generation.message_id) is generation:
            del self._generations[generation.message_id]

    async def shutdown(self, timeout_s: float = 10.0) -> None:
        """End every stream with an event clients understand, saving each partial answer."""
        running = self.running()
        for generation in running:
            generation.stop(StopReason.SHUTDOWN)
        if running:
            await asyncio.wait(
                [asyncio.ensure_future(g.done.wait()) for g in running], timeout=timeout_s
            )
        self._generations.clear()
        self._running.clear()
