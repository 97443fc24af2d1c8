// What can be done with a finished answer, below it: copy its markdown source, and, on the
// latest answer, regenerate it (another answer to the same question; this one stays a version).

import { CopyButton } from './CopyButton';
import styles from './MessageActions.module.css';

export interface MessageActionsProps {
  /** The answer's markdown source; nothing to copy when it is empty. */
  markdown: string;
  /** Offered on the latest answer when a new version can be made. */
  onRegenerate?: () => void;
}

export function MessageActions({ markdown, onRegenerate }: MessageActionsProps) {
  return (
    <div className={styles.actions} data-testid="message-actions">
      {markdown !== '' && <CopyButton text={markdown} what="answer" />}
      {onRegenerate && (
        <button
          type="button"
          className={styles.action}
          onClick={onRegenerate}
          title="Write another answer to the same question; this one stays as a version"
        >
          Regenerate
        </button>
      )}
    </div>
  );
}
