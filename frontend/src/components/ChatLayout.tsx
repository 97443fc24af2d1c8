// The chat screen's frame: an optional sidebar (a drawer at phone width), a header, the
// message column and the composer. Both chat pages use it, so they look and behave alike.

import { useEffect, useState } from 'react';
import type { ReactNode } from 'react';

import styles from './ChatLayout.module.css';
import { MenuIcon } from './Icons';

export interface ChatLayoutProps {
  sidebar?: (close: () => void) => ReactNode;
  header: ReactNode;
  children: ReactNode;
  /** Changes when the view changes (route), closing the drawer. */
  viewKey?: string;
}

export function ChatLayout({ sidebar, header, children, viewKey }: ChatLayoutProps) {
  const [drawerOpen, setDrawerOpen] = useState(false);
  const close = () => {
    setDrawerOpen(false);
  };

  useEffect(() => {
    setDrawerOpen(false);
  }, [viewKey]);

  useEffect(() => {
    if (!drawerOpen) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') setDrawerOpen(false);
    };
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
    };
  }, [drawerOpen]);

  return (
    <div className={styles.shell} data-drawer-open={drawerOpen ? 'true' : 'false'}>
      {sidebar && (
        <>
          <aside id="chat-sidebar" className={styles.sidebar} aria-label="Sidebar">
            {sidebar(close)}
          </aside>
          <div className={styles.scrim} aria-hidden="true" onClick={close} />
        </>
      )}
      <main className={styles.main}>
        <header className={styles.header}>
          {sidebar && (
            <button
              type="button"
              className={styles.menuButton}
              aria-label="Show conversations"
              aria-expanded={drawerOpen}
              aria-controls="chat-sidebar"
              onClick={() => {
                setDrawerOpen((open) => !open);
              }}
            >
              <MenuIcon />
            </button>
          )}
          <div className={styles.headerContent}>{header}</div>
        </header>
        <div className={styles.column}>{children}</div>
      </main>
    </div>
  );
}
