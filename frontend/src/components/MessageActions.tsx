// What can be done with a finished answer, below it: copy its markdown source.

import { CopyButton } from './CopyButton';
import styles from './MessageActions.module.css';

export function MessageActions({ markdown }: { markdown: string }) {
  return (
    <div className={styles.actions} data-testid="message-actions">
      <CopyButton text={markdown} what="answer" />
    </div>
  );
}
