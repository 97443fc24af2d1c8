// Small helpers shared by tests.

import { act } from '@testing-library/react';
import { vi } from 'vitest';

import type { ChunkEvent, CompleteEvent, StartEvent, StreamEvent } from '../api/events';
import { setAccessToken } from '../services/session';

import { FakeEventSource } from './FakeEventSource';
import { manualFrames } from './frames';

export function signIn(): void {
  setAccessToken('access-token-1', 3600);
}

/** Waits until the n-th EventSource has been opened (the stream token is fetched first). */
export async function waitForEventSource(count = 1): Promise<FakeEventSource> {
  await vi.waitFor(
    () => {
      if (FakeEventSource.instances.length < count) throw new Error('EventSource not opened yet');
    },
    { interval: 1, timeout: 2_000 },
  );
  return FakeEventSource.instances[count - 1] as FakeEventSource;
}

/** Feeds events to an EventSource inside act(), as React would see them in a browser. */
export function emit(es: FakeEventSource, ...events: StreamEvent[]): void {
  act(() => {
    for (const event of events) es.emit(event);
  });
}

export function start(messageId = 'assistant-1', conversationId = 'conv-1'): StartEvent {
  return {
    type: 'start',
    message_id: messageId,
    conversation_id: conversationId,
    user_message_id: `user-of-${messageId}`,
  };
}

export function chunk(content: string, index: number): ChunkEvent {
  return { type: 'chunk', content, index };
}

export function complete(
  chunks: number,
  messageId = 'assistant-1',
  conversationId = 'conv-1',
  onboarding: { progress: number; completed: boolean } | null = null,
): CompleteEvent {
  return {
    type: 'complete',
    message_id: messageId,
    conversation_id: conversationId,
    chunks,
    finish_reason: 'stop',
    onboarding,
  };
}

/**
 * Replaces requestAnimationFrame with a queue the test flushes by hand (inside act(), for
 * React), so "one frame" is exactly what the test says it is.
 */
export function installManualFrames(): { flush: () => void; pending: () => number } {
  const frames = manualFrames();
  return {
    flush: () => {
      act(() => {
        frames.flush();
      });
    },
    pending: frames.pending,
  };
}
