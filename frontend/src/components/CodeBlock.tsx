// A code block in an answer: its language, a Copy button, and the code, highlighted once its
// closing fence is written. A long line scrolls sideways in a box the keyboard can reach.

import { memo, useEffect, useMemo, useSyncExternalStore } from 'react';

import {
  currentHighlighter,
  highlightCode,
  loadHighlighter,
  subscribeHighlighter,
} from '../lib/highlight';

import styles from './CodeBlock.module.css';
import { CopyButton } from './CopyButton';

function useHighlighter() {
  useEffect(() => {
    void loadHighlighter();
  }, []);
  return useSyncExternalStore(subscribeHighlighter, currentHighlighter);
}

export const CodeBlock = memo(function CodeBlock({
  code,
  language,
  isOpen,
}: {
  code: string;
  language: string;
  /** Still being written: shown plain (its text changes every frame) until the fence closes. */
  isOpen: boolean;
}) {
  const highlight = useHighlighter();
  const html = useMemo(
    () => (highlight === null || isOpen ? null : highlightCode(highlight, code, language)),
    [highlight, isOpen, code, language],
  );
  const label = language || 'text';

  return (
    <div className={styles.codeBlock} data-testid="code-block">
      <div className={styles.header}>
        <span className={styles.language} data-testid="code-language">
          {label}
        </span>
        {!isOpen && <CopyButton text={code} what={`${label} code`} className={styles.copy} />}
      </div>
      <pre className={styles.pre} tabIndex={0} role="group" aria-label={`${label} code`}>
        {html === null ? (
          <code>{code}</code>
        ) : (
          <code className="hljs" dangerouslySetInnerHTML={{ __html: html }} />
        )}
      </pre>
    </div>
  );
});
