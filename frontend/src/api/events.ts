// Server-Sent Event payloads of the stream endpoints (docs/api.md, "The SSE protocol"): an
// answer's (/chat/messages/{id}/stream: a send's, once POST /chat/turns has started it, or one
// we follow) and a Continue's (/chat/messages/{id}/continue). Every event is unnamed (so
// EventSource.onmessage receives it) and its data is one of these.

import type { OnboardingProgress } from './types';

export interface StartEvent {
  type: 'start';
  message_id: string;
  conversation_id: string;
  user_message_id: string;
  /** A Continue: the answer so far, which this run's chunks follow. */
  prefix?: string;
}

export interface ChunkEvent {
  type: 'chunk';
  content: string;
  index: number;
}

export interface CompleteEvent {
  type: 'complete';
  message_id: string;
  conversation_id: string;
  chunks: number;
  finish_reason: string;
  onboarding: OnboardingProgress | null;
  /** A Continue: the whole answer as stored, the part before it and this run's. */
  content?: string;
}

export type StreamErrorCode =
  'llm_error' | 'timeout' | 'rate_limited' | 'unauthorized' | 'internal' | 'cancelled';

export interface ErrorEvent {
  type: 'error';
  code: StreamErrorCode;
  message: string;
  retryable: boolean;
  message_id?: string;
  /**
   * The answer as stored, when this reader had been sent more than was kept (the server died
   * between two checkpoints): show this text instead of what was streamed.
   */
  content?: string;
}

/**
 * The answer waits for the model (one answer at a time): its place in line, 1 = next. It has no
 * `id:` (it is no part of the answer's numbered events) and comes only before the first chunk.
 */
export interface QueuedEvent {
  type: 'queued';
  position: number;
  message_id: string;
}

export type StreamEvent = StartEvent | ChunkEvent | QueuedEvent | CompleteEvent | ErrorEvent;

const EVENT_TYPES: ReadonlySet<string> = new Set(['start', 'chunk', 'queued', 'complete', 'error']);

/** Parses one event's `data`; returns null for JSON that is not a known event. */
export function parseStreamEvent(data: string): StreamEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !EVENT_TYPES.has(type)) return null;
  if (type === 'chunk' && typeof (value as { content?: unknown }).content !== 'string') return null;
  if (type === 'queued' && typeof (value as { position?: unknown }).position !== 'number') {
    return null;
  }
  return value as StreamEvent;
}
