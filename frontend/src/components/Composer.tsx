// The message box: Enter sends, Shift+Enter adds a line, Esc stops the answer. While an answer
// is coming the box stays enabled and focused (a disabled element loses focus); only sending
// is blocked, and the Send button becomes Stop.

import { useEffect, useId, useRef, useState } from 'react';
import type { SyntheticEvent, KeyboardEvent } from 'react';

import styles from './Composer.module.css';
import { SendIcon } from './Icons';

export interface ComposerProps {
  /** Returns false when the message was refused (it then stays in the box). */
  onSend: (text: string) => boolean;
  /**
   * The box's text, when the page keeps it (a draft that outlives the page); with
   * onValueChange. The page then also empties it after a send. Without them the box keeps its
   * own, emptied on a send.
   */
  value?: string;
  onValueChange?: (text: string) => void;
  /** Why the last send was refused; its text is back in the box. */
  error?: string | null;
  onStop: () => void;
  /** An answer is in flight: sending is blocked and the button stops it instead. */
  isBusy: boolean;
  /**
   * Why sending waits although the box is the user's (an answer being written in another tab):
   * shown above the box and told to screen readers; Send is disabled meanwhile, the text kept.
   */
  heldReason?: string | null;
  maxLength?: number;
  placeholder?: string;
  busyPlaceholder?: string;
  label?: string;
  autoFocus?: boolean;
}

const COUNTER_FROM = 0.8;

/**
 * Characters as the server counts them against MAX_MESSAGE_CHARS: Unicode code points, so an
 * emoji is one character, where `text.length` (UTF-16 units) would count it twice.
 */
function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** Focus the box on load only where that does not pop up an on-screen keyboard. */
function hasFinePointer(): boolean {
  if (typeof window.matchMedia !== 'function') return true;
  return window.matchMedia('(pointer: fine)').matches;
}

export function Composer({
  onSend,
  value,
  onValueChange,
  error = null,
  onStop,
  isBusy,
  heldReason = null,
  maxLength,
  placeholder = 'Message ChatStream…',
  busyPlaceholder = 'The assistant is answering…',
  label = 'Message',
  autoFocus = hasFinePointer(),
}: ComposerProps) {
  const [ownText, setOwnText] = useState('');
  const text = value ?? ownText;
  const setText = onValueChange ?? setOwnText;
  const errorId = useId();
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const hintId = useId();
  const heldId = useId();
  const length = characterCount(text);
  const tooLong = maxLength !== undefined && length > maxLength;
  const isEmpty = text.trim() === '';
  const isHeld = heldReason !== null;
  const canSend = !isBusy && !isHeld && !isEmpty && !tooLong;
  const describedBy = [error === null ? null : errorId, isHeld ? heldId : null, hintId]
    .filter((id) => id !== null)
    .join(' ');

  const send = () => {
    if (!canSend) return;
    if (onSend(text) && value === undefined) setOwnText('');
    inputRef.current?.focus();
  };

  const stop = () => {
    onStop();
    inputRef.current?.focus();
  };

  const onSubmit = (event: SyntheticEvent) => {
    event.preventDefault();
    if (isBusy) stop();
    else send();
  };

  // Esc stops the answer wherever focus is, not only in the box; not an Esc something else
  // took first (closing the phone drawer, cancelling a rename).
  const stopRef = useRef(stop);
  stopRef.current = stop;
  useEffect(() => {
    if (!isBusy) return;
    const onKey = (event: globalThis.KeyboardEvent) => {
      if (event.key === 'Escape' && !event.isComposing && !event.defaultPrevented) {
        stopRef.current();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
    };
  }, [isBusy]);

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // IME composition uses Enter to pick a candidate: that is not a send.
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  const showCounter = maxLength !== undefined && length >= maxLength * COUNTER_FROM;

  return (
    <form className={styles.composer} onSubmit={onSubmit} aria-label="Send a message">
      {error !== null && (
        <p id={errorId} className={styles.error} role="alert">
          {error}
        </p>
      )}
      {/* Always there, so the reason is announced when it appears. */}
      <p id={heldId} className={styles.held} role="status">
        {heldReason}
      </p>
      <div className={styles.field} data-busy={isBusy ? 'true' : 'false'}>
        <textarea
          ref={inputRef}
          className={styles.input}
          value={text}
          onChange={(event) => {
            setText(event.target.value);
          }}
          onKeyDown={onKeyDown}
          placeholder={isBusy ? busyPlaceholder : placeholder}
          aria-label={label}
          aria-describedby={describedBy}
          aria-invalid={tooLong}
          rows={1}
          autoFocus={autoFocus}
        />
        {isBusy ? (
          <button type="submit" className={`${styles.button} ${styles.stop}`}>
            <span className={styles.stopIcon} aria-hidden="true" />
            <span className={styles.label}>Stop</span>
          </button>
        ) : (
          <button
            type="submit"
            className={styles.button}
            aria-disabled={!canSend}
            aria-describedby={isHeld ? heldId : undefined}
            data-ready={canSend ? 'true' : 'false'}
          >
            <span className={styles.label}>Send</span>
            <SendIcon />
          </button>
        )}
      </div>
      <p id={hintId} className={styles.hint}>
        {tooLong ? (
          <span className={styles.tooLong}>
            Too long: {length.toLocaleString()} of {maxLength.toLocaleString()} characters.
          </span>
        ) : showCounter ? (
          <span>
            {length.toLocaleString()} / {maxLength.toLocaleString()}
          </span>
        ) : (
          <span>
            <kbd>Enter</kbd> to send · <kbd>Shift</kbd>+<kbd>Enter</kbd> for a new line
            {isBusy ? (
              <>
                {' '}
                · <kbd>Esc</kbd> to stop
              </>
            ) : null}
          </span>
        )}
      </p>
    </form>
  );
}
