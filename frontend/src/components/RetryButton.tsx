// Retry on a failed answer. While the server's Retry-After has not passed (a rate limit), a
// retry could only be refused again: the button is disabled and says until when.

import { useEffect, useId, useState } from 'react';

import type { ChatError } from '../chat/messages';

import styles from './RetryButton.module.css';

/** setTimeout's longest wait; a longer one is waited out in steps. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** Whether `retryAt` (epoch ms) is still ahead; turns false when it passes. */
function useIsBefore(retryAt: number | null | undefined): boolean {
  const [passed, setPassed] = useState<number | null>(null);
  useEffect(() => {
    if (retryAt === null || retryAt === undefined) return;
    let timer: ReturnType<typeof setTimeout>;
    const wait = () => {
      const left = Math.max(0, retryAt - Date.now());
      timer = setTimeout(
        () => {
          if (Date.now() >= retryAt) setPassed(retryAt);
          else wait();
        },
        Math.min(left, MAX_TIMEOUT_MS),
      );
    };
    wait();
    return () => {
      clearTimeout(timer);
    };
  }, [retryAt]);
  return retryAt !== null && retryAt !== undefined && passed !== retryAt;
}

function clockTime(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function RetryButton({
  error,
  onRetry,
  className,
}: {
  error: ChatError;
  onRetry: () => void;
  className: string | undefined;
}) {
  const waiting = useIsBefore(error.retryAt);
  const reasonId = useId();
  if (!waiting || error.retryAt === null || error.retryAt === undefined) {
    return (
      <button type="button" className={className} onClick={onRetry}>
        Retry
      </button>
    );
  }
  return (
    <>
      <button
        type="button"
        className={`${className ?? ''} ${styles.waiting}`}
        aria-disabled="true"
        aria-describedby={reasonId}
      >
        Retry
      </button>
      <span id={reasonId} className={styles.reason}>
        Possible again at {clockTime(error.retryAt)}
      </span>
    </>
  );
}
