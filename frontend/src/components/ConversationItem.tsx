// One conversation in the sidebar: its link, and Rename (edited in place) and Delete (asked
// to confirm in place) beside it.

import { useEffect, useRef, useState } from 'react';
import type { KeyboardEvent, ReactNode } from 'react';
import { NavLink } from 'react-router';

import type { Conversation } from '../api/types';
import { conversationTitle } from '../lib/conversationGroups';

import styles from './ConversationSidebar.module.css';
import { PencilIcon, TrashIcon } from './Icons';

export interface ConversationItemProps {
  conversation: Conversation;
  isActive: boolean;
  onNavigate: () => void;
  onRename: (conversationId: string, title: string) => Promise<void>;
  onDelete: (conversationId: string) => Promise<void>;
}

type Mode = 'view' | 'rename' | 'confirm-delete';

export const TITLE_MAX_CHARS = 200;

export function ConversationItem({
  conversation,
  isActive,
  onNavigate,
  onRename,
  onDelete,
}: ConversationItemProps) {
  const title = conversationTitle(conversation);
  const [mode, setMode] = useState<Mode>('view');
  const [draft, setDraft] = useState(title);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const editing = useRef(false);
  const renameButton = useRef<HTMLButtonElement>(null);
  const deleteButton = useRef<HTMLButtonElement>(null);
  const cancelDelete = useRef<HTMLButtonElement>(null);
  // Where focus goes when the row is back to its link and buttons (a keyboard user stays put).
  const [returnFocus, setReturnFocus] = useState<'rename' | 'delete' | null>(null);

  useEffect(() => {
    if (mode === 'confirm-delete') cancelDelete.current?.focus();
    if (mode !== 'view' || returnFocus === null) return;
    (returnFocus === 'rename' ? renameButton : deleteButton).current?.focus();
    setReturnFocus(null);
  }, [mode, returnFocus]);

  const backToView = (focus: 'rename' | 'delete' | null) => {
    editing.current = false;
    setMode('view');
    setBusy(false);
    setReturnFocus(focus);
  };

  /** `keepFocus`: Enter (focus back on Rename); leaving the box leaves focus where it went. */
  const saveTitle = async (keepFocus: boolean) => {
    const focus = keepFocus ? 'rename' : null;
    if (!editing.current) return;
    editing.current = false; // one save per edit, whether Enter or leaving the box asked first
    const next = draft.trim().replace(/\s+/g, ' ');
    if (next === '' || next === title) {
      backToView(focus);
      return;
    }
    setBusy(true);
    try {
      await onRename(conversation.id, next);
      setError(null);
      backToView(focus);
    } catch (reason) {
      editing.current = true;
      setBusy(false);
      setError(reason instanceof Error ? reason.message : 'Could not rename the conversation.');
    }
  };

  const confirmDelete = async () => {
    setBusy(true);
    try {
      await onDelete(conversation.id);
    } catch (reason) {
      setError(reason instanceof Error ? reason.message : 'Could not delete the conversation.');
      backToView('delete');
    }
  };

  const onRenameKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key !== 'Escape') return;
    // The drawer (and the answer) listen for Escape too: this one only cancels the edit.
    event.stopPropagation();
    event.preventDefault();
    setError(null);
    backToView('rename');
  };

  let body: ReactNode;
  if (mode === 'rename') {
    body = (
      <form
        className={styles.renameForm}
        onSubmit={(event) => {
          event.preventDefault();
          void saveTitle(true);
        }}
      >
        <input
          className={styles.renameInput}
          aria-label="Conversation title"
          value={draft}
          maxLength={TITLE_MAX_CHARS}
          disabled={busy}
          autoFocus
          onFocus={(event) => {
            event.currentTarget.select();
          }}
          onChange={(event) => {
            setDraft(event.currentTarget.value);
          }}
          onKeyDown={onRenameKeyDown}
          onBlur={() => {
            // Leaving the box saves, as Enter does; not after Escape cancelled the edit.
            if (editing.current) void saveTitle(false);
          }}
        />
      </form>
    );
  } else if (mode === 'confirm-delete') {
    body = (
      <div
        className={styles.confirm}
        role="group"
        aria-label={`Delete “${title}”?`}
        onKeyDown={(event) => {
          if (event.key !== 'Escape') return;
          event.stopPropagation();
          backToView('delete');
        }}
      >
        <span className={styles.confirmText}>Delete “{title}”?</span>
        <div className={styles.confirmButtons}>
          <button
            type="button"
            className={styles.dangerButton}
            disabled={busy}
            onClick={() => void confirmDelete()}
          >
            Delete
          </button>
          <button
            ref={cancelDelete}
            type="button"
            className={styles.plainButton}
            disabled={busy}
            onClick={() => {
              backToView('delete');
            }}
          >
            Cancel
          </button>
        </div>
      </div>
    );
  } else {
    body = (
      <div className={styles.row}>
        <NavLink
          to={`/chat/${conversation.id}`}
          className={styles.item}
          aria-current={isActive ? 'page' : undefined}
          title={title}
          onClick={onNavigate}
        >
          {title}
        </NavLink>
        <div className={styles.actions}>
          <button
            ref={renameButton}
            type="button"
            className={styles.iconButton}
            aria-label={`Rename “${title}”`}
            onClick={() => {
              setDraft(title);
              setError(null);
              editing.current = true;
              setMode('rename');
            }}
          >
            <PencilIcon />
          </button>
          <button
            ref={deleteButton}
            type="button"
            className={styles.iconButton}
            aria-label={`Delete “${title}”`}
            onClick={() => {
              setError(null);
              setMode('confirm-delete');
            }}
          >
            <TrashIcon />
          </button>
        </div>
      </div>
    );
  }

  return (
    <li className={styles.entry} data-active={isActive ? 'true' : undefined}>
      {body}
      {error !== null && (
        <p className={styles.error} role="alert">
          {error}
        </p>
      )}
    </li>
  );
}
