// A Copy button: puts text on the clipboard, says "Copied" for a moment, and tells screen
// readers through its own polite status region (a changed button label is often not read).

import { useEffect, useRef, useState } from 'react';

import { copyText } from '../lib/clipboard';

import styles from './CopyButton.module.css';

export const COPIED_MS = 2000;

type CopyState = 'idle' | 'copied' | 'failed';

const SAID: Record<CopyState, string> = {
  idle: '',
  copied: 'Copied',
  failed: 'Could not copy. Select the text and copy it instead.',
};

export function CopyButton({
  text,
  what,
  className,
}: {
  text: string;
  /** What is copied, completing the button's name for screen readers: "Copy code". */
  what: string;
  className?: string;
}) {
  const [state, setState] = useState<CopyState>('idle');
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);

  async function copy() {
    const copied = await copyText(text);
    setState(copied ? 'copied' : 'failed');
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setState('idle'), COPIED_MS);
  }

  return (
    <>
      <button
        type="button"
        className={[styles.copy, className].filter(Boolean).join(' ')}
        onClick={() => void copy()}
        data-state={state}
      >
        {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : 'Copy'}
        {state === 'idle' && <span className="sr-only"> {what}</span>}
      </button>
      <span role="status" className="sr-only">
        {SAID[state]}
      </span>
    </>
  );
}
