// The sidebar: brand, "New chat", the conversation list, and the account footer.

import { NavLink } from 'react-router';

import type { Conversation } from '../api/types';

import styles from './ConversationSidebar.module.css';
import { PlusIcon, SparkleIcon } from './Icons';
import { ThemeToggle } from './ThemeToggle';

export interface ConversationSidebarProps {
  conversations: Conversation[];
  isLoading: boolean;
  error: string | null;
  activeId: string | null;
  userLabel: string;
  onNewChat: () => void;
  onNavigate: () => void;
  onLogout: () => void;
}

function title(conversation: Conversation): string {
  return conversation.title?.trim() || 'New conversation';
}

export function ConversationSidebar({
  conversations,
  isLoading,
  error,
  activeId,
  userLabel,
  onNewChat,
  onNavigate,
  onLogout,
}: ConversationSidebarProps) {
  return (
    <div className={styles.sidebar}>
      <div className={styles.brand}>
        <span className={styles.logo}>
          <SparkleIcon />
        </span>
        ChatStream
      </div>
      <button type="button" className={styles.newChat} onClick={onNewChat}>
        <PlusIcon /> New chat
      </button>
      <nav className={styles.nav} aria-label="Conversations">
        {isLoading && <p className={styles.muted}>Loading…</p>}
        {error !== null && (
          <p className={styles.error} role="alert">
            {error}
          </p>
        )}
        {!isLoading && error === null && conversations.length === 0 && (
          <p className={styles.muted}>No conversations yet.</p>
        )}
        <ul className={styles.list}>
          {conversations.map((conversation) => (
            <li key={conversation.id}>
              <NavLink
                to={`/chat/${conversation.id}`}
                className={styles.item}
                aria-current={conversation.id === activeId ? 'page' : undefined}
                onClick={onNavigate}
              >
                {title(conversation)}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <div className={styles.footer}>
        <span className={styles.user} title={userLabel}>
          {userLabel}
        </span>
        <ThemeToggle />
        <button type="button" className={styles.logout} onClick={onLogout}>
          Sign out
        </button>
      </div>
    </div>
  );
}
