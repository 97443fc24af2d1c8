// The chat screen's frame: an optional sidebar (a drawer at phone width), a header, the
// message column and the composer. Both chat pages use it, so they look and behave alike.
// The open drawer is modal: it takes focus, keeps Tab inside, makes the page behind inert (so
// screen readers see only the drawer; an <aside> may not take the dialog role), and Esc closes
// it, and only it; closed, focus goes back to the button that opened it.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { KeyboardEvent, ReactNode } from 'react';

import styles from './ChatLayout.module.css';
import { MenuIcon } from './Icons';

export interface ChatLayoutProps {
  /**
   * Called again only when this function changes (or the drawer's `close`, which never does):
   * a page keeps it stable (useCallback) so what changes in its message column leaves the
   * sidebar as it is.
   */
  sidebar?: (close: () => void) => ReactNode;
  header: ReactNode;
  children: ReactNode;
  /** Changes when the view changes (route), closing the drawer. */
  viewKey?: string;
}

/** Where the sidebar becomes a drawer; matches ChatLayout.module.css. */
export const DRAWER_MEDIA_QUERY = '(max-width: 768px)';

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), textarea:not([disabled]), ' +
  'select:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Whether the sidebar is a drawer now (phone width); where media queries are unknown, it is. */
function useIsDrawerWidth(): boolean {
  const [matches, setMatches] = useState(
    () => typeof window.matchMedia !== 'function' || window.matchMedia(DRAWER_MEDIA_QUERY).matches,
  );
  useEffect(() => {
    if (typeof window.matchMedia !== 'function') return;
    const query = window.matchMedia(DRAWER_MEDIA_QUERY);
    const onChange = () => {
      setMatches(query.matches);
    };
    onChange();
    query.addEventListener('change', onChange);
    return () => {
      query.removeEventListener('change', onChange);
    };
  }, []);
  return matches;
}

function focusables(container: HTMLElement): HTMLElement[] {
  return [...container.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
    (el) => !el.closest('[inert]'),
  );
}

export function ChatLayout({ sidebar, header, children, viewKey }: ChatLayoutProps) {
  const [drawerOpen, setDrawerOpen] = useState(false);
  const drawerRef = useRef<HTMLElement>(null);
  const menuButtonRef = useRef<HTMLButtonElement>(null);
  const close = useCallback(() => {
    setDrawerOpen(false);
  }, []);
  const sidebarContent = useMemo(() => sidebar?.(close), [sidebar, close]);

  // Another view closes the drawer: adjusted while rendering, and only when it is open. Set from
  // an effect even to the same value, the update stays queued and costs a commit of its own
  // beside the next render's (at a new conversation's start, beside its first text).
  const [view, setView] = useState(viewKey);
  if (view !== viewKey) {
    setView(viewKey);
    if (drawerOpen) setDrawerOpen(false);
  }

  // Modal only at phone width: grown wider, the sidebar is a column again and nothing is inert
  // (the drawer is open again if the window narrows back).
  const isDrawerWidth = useIsDrawerWidth();
  const isModal = drawerOpen && isDrawerWidth;

  // Opened: focus moves into the drawer. Closed: back to the button that opened it.
  const wasModal = useRef(false);
  useEffect(() => {
    if (isModal) {
      // Unless it is there already (the window narrowed back while a rename was open in it).
      const drawer = drawerRef.current;
      if (drawer !== null && !drawer.contains(document.activeElement)) {
        focusables(drawer)[0]?.focus();
      }
    } else if (wasModal.current && !drawerOpen) {
      menuButtonRef.current?.focus();
    }
    wasModal.current = isModal;
  }, [isModal, drawerOpen]);

  // Esc while focus is outside the drawer (on the page's body after a click on its background):
  // it closes the drawer and goes no further, so it never also stops the answer being written.
  useEffect(() => {
    if (!isModal) return;
    const onKey = (event: globalThis.KeyboardEvent) => {
      if (event.key !== 'Escape' || event.isComposing) return;
      if (event.target instanceof Node && drawerRef.current?.contains(event.target)) return;
      event.stopPropagation();
      event.preventDefault();
      setDrawerOpen(false);
    };
    window.addEventListener('keydown', onKey, { capture: true });
    return () => {
      window.removeEventListener('keydown', onKey, { capture: true });
    };
  }, [isModal]);

  // Inside the drawer: Esc closes it (a search or a rename that used Esc first stopped it), and
  // Tab and Shift+Tab go round its controls.
  const onDrawerKeyDown = (event: KeyboardEvent<HTMLElement>) => {
    if (!isModal) return;
    if (event.key === 'Escape' && !event.nativeEvent.isComposing) {
      event.stopPropagation();
      event.preventDefault();
      setDrawerOpen(false);
      return;
    }
    if (event.key !== 'Tab' || drawerRef.current === null) return;
    const controls = focusables(drawerRef.current);
    const first = controls[0];
    const last = controls.at(-1);
    if (first === undefined || last === undefined) return;
    const active = document.activeElement;
    if (event.shiftKey && (active === first || !drawerRef.current.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  };

  return (
    <div className={styles.shell} data-drawer-open={drawerOpen ? 'true' : 'false'}>
      {sidebar && (
        <>
          <aside
            ref={drawerRef}
            id="chat-sidebar"
            className={styles.sidebar}
            aria-label="Sidebar"
            onKeyDown={onDrawerKeyDown}
          >
            {sidebarContent}
          </aside>
          <div className={styles.scrim} aria-hidden="true" onClick={close} />
        </>
      )}
      <main className={styles.main} inert={isModal}>
        <header className={styles.header}>
          {sidebar && (
            <button
              ref={menuButtonRef}
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
