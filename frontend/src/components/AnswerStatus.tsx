// The line under an answer on its way that says what is happening while no text comes:
// "Waiting for the model, 2 ahead" (or "You're next") while it waits in line for a model that
// writes one answer at a time, "Still thinking… (12 s)" after a few silent seconds,
// "Reconnecting…" while its connection is down. A screen reader hears each state once
// (politely), each new place in line too, never the seconds ticking.

import { useEffect, useState } from 'react';

import type { ChatMessage } from '../chat/messages';

import styles from './AnswerStatus.module.css';

/** Silence before the line says the assistant is still thinking. */
export const STILL_THINKING_AFTER_MS = 3_000;
const TICK_MS = 1_000;

/** What a waiting answer's place in line (1 = next) reads as. */
export function queueText(position: number): string {
  const ahead = position - 1;
  return ahead <= 0
    ? "Waiting for the model, you're next"
    : `Waiting for the model, ${ahead} ahead`;
}

/** Milliseconds since `key` last changed, counted in whole ticks; 0 while `key` is null. */
function useSilenceMs(key: string | null): number {
  const [tick, setTick] = useState({ key, ms: 0 });
  useEffect(() => {
    if (key === null) return;
    const startedAt = Date.now();
    const timer = setInterval(() => {
      setTick({ key, ms: Date.now() - startedAt });
    }, TICK_MS);
    return () => {
      clearInterval(timer);
    };
  }, [key]);
  return key !== null && tick.key === key ? tick.ms : 0;
}

export function AnswerStatus({ message }: { message: ChatMessage | undefined }) {
  const waiting =
    message !== undefined &&
    message.role === 'assistant' &&
    (message.isStreaming || message.status === 'pending');
  const reconnecting = waiting && message.isReconnecting === true;
  // Any new text (or a change of connection) starts the silence again.
  const progressKey = waiting
    ? `${message.id}:${message.content.length}:${reconnecting ? 'down' : 'up'}`
    : null;
  const silenceMs = useSilenceMs(progressKey);
  const position = waiting && !reconnecting ? (message.queuePosition ?? null) : null;
  const queued = position !== null;
  const thinking = waiting && !reconnecting && !queued && silenceMs >= STILL_THINKING_AFTER_MS;

  const visible = reconnecting
    ? 'Reconnecting…'
    : queued
      ? queueText(position)
      : thinking
        ? `Still thinking… (${Math.floor(silenceMs / 1000)} s)`
        : null;
  // Said once per state: each place in line, the wait for a first word, each drop of the
  // connection.
  const spoken = reconnecting
    ? 'Reconnecting…'
    : queued
      ? queueText(position)
      : thinking && message.content === ''
        ? 'Still thinking…'
        : '';

  return (
    <>
      {visible !== null && (
        <p
          className={styles.status}
          data-state={reconnecting ? 'reconnecting' : queued ? 'queued' : 'thinking'}
          data-testid="answer-status"
          aria-hidden="true"
        >
          {visible}
        </p>
      )}
      {/* A live region of its own, apart from the list's "Assistant replied" status. */}
      <div
        aria-live="polite"
        aria-atomic="true"
        className="sr-only"
        data-testid="answer-status-live"
      >
        {spoken}
      </div>
    </>
  );
}
