// `< 1/2 >` under a message with versions (a regenerated answer, an edited question): flips to
// the previous or next version; the position is said politely when it changes.

import styles from './VersionSwitcher.module.css';

export interface VersionSwitcherProps {
  /** 1-based position of the version shown. */
  index: number;
  count: number;
  /** What has the versions, for the labels: "answer" or "message". */
  what: string;
  /** Shows the version at this 1-based position; absent while versions cannot be flipped. */
  onShow?: (index: number) => void;
}

export function VersionSwitcher({ index, count, what, onShow }: VersionSwitcherProps) {
  const canFlip = onShow !== undefined;
  return (
    <div className={styles.switcher} role="group" aria-label={`Versions of this ${what}`}>
      <button
        type="button"
        className={styles.step}
        aria-label={`Previous version of this ${what}`}
        disabled={!canFlip || index <= 1}
        onClick={() => onShow?.(index - 1)}
      >
        <span aria-hidden="true">‹</span>
      </button>
      <span className={styles.position} aria-live="polite">
        <span aria-hidden="true" data-testid="version-position">
          {index}/{count}
        </span>
        <span className="sr-only">
          Version {index} of {count}
        </span>
      </span>
      <button
        type="button"
        className={styles.step}
        aria-label={`Next version of this ${what}`}
        disabled={!canFlip || index >= count}
        onClick={() => onShow?.(index + 1)}
      >
        <span aria-hidden="true">›</span>
      </button>
    </div>
  );
}
