// A centred message for whole-page waits and failures.

import type { ReactNode } from 'react';

import styles from './FullPageStatus.module.css';

export function FullPageStatus({
  children,
  isError = false,
}: {
  children: ReactNode;
  isError?: boolean;
}) {
  return (
    <div className={styles.page} role={isError ? 'alert' : 'status'}>
      {!isError && <span className={styles.spinner} aria-hidden="true" />}
      <p>{children}</p>
    </div>
  );
}
