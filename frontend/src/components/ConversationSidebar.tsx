// The sidebar: brand, "New chat", a search over the user's messages, the conversations grouped
// by date (each with Rename and Delete), and the account footer.

import { useMemo } from 'react';
import { Link } from 'react-router';

import type { Conversation, SearchHit } from '../api/types';
import { useConversationSearch } from '../hooks/useConversationSearch';
import { conversationTitle, groupByDate } from '../lib/conversationGroups';

import { ConversationItem } from './ConversationItem';
import { SearchResults } from './ConversationSearch';
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
  onRename: (conversationId: string, title: string) => Promise<void>;
  onDelete: (conversationId: string) => Promise<void>;
  /** Today's date, for the groups (tests fix it). */
  now?: Date;
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
  onRename,
  onDelete,
  now,
}: ConversationSidebarProps) {
  const search = useConversationSearch();
  const groups = useMemo(() => groupByDate(conversations, now), [conversations, now]);
  const titleFor = (hit: SearchHit) => {
    const listed = conversations.find((c) => c.id === hit.conversation_id);
    return conversationTitle(listed ?? { title: hit.conversation_title, kind: 'chat' });
  };

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
      <div role="search" className={styles.search}>
        <input
          type="search"
          className={styles.searchInput}
          aria-label="Search conversations"
          placeholder="Search messages"
          value={search.query}
          onChange={(event) => {
            search.setQuery(event.currentTarget.value);
          }}
          onKeyDown={(event) => {
            if (event.key !== 'Escape' || search.query === '') return;
            // Clears the search; the drawer closes on the next Escape.
            event.stopPropagation();
            event.preventDefault();
            search.setQuery('');
          }}
        />
      </div>
      <nav className={styles.nav} aria-label="Conversations">
        {search.isActive ? (
          <SearchResults
            query={search.query}
            results={search.results}
            isSearching={search.isSearching}
            error={search.error}
            activeId={activeId}
            titleFor={titleFor}
            onChoose={() => {
              search.setQuery('');
              onNavigate();
            }}
          />
        ) : (
          <>
            {isLoading && <p className={styles.muted}>Loading…</p>}
            {error !== null && (
              <p className={styles.error} role="alert">
                {error}
              </p>
            )}
            {!isLoading && error === null && conversations.length === 0 && (
              <p className={styles.muted}>No conversations yet.</p>
            )}
            {groups.map((group) => {
              const headingId = `conversation-group-${group.label.replace(/\W+/g, '-')}`;
              return (
                <section key={group.label} className={styles.group} aria-labelledby={headingId}>
                  <h2 id={headingId} className={styles.groupLabel}>
                    {group.label}
                  </h2>
                  <ul className={styles.list}>
                    {group.conversations.map((conversation) => (
                      <ConversationItem
                        key={conversation.id}
                        conversation={conversation}
                        isActive={conversation.id === activeId}
                        onNavigate={onNavigate}
                        onRename={onRename}
                        onDelete={onDelete}
                      />
                    ))}
                  </ul>
                </section>
              );
            })}
          </>
        )}
      </nav>
      <div className={styles.footer}>
        <span className={styles.user} title={userLabel}>
          {userLabel}
        </span>
        <ThemeToggle />
        <Link to="/settings" className={`${styles.logout} ${styles.settingsLink}`}>
          Settings
        </Link>
        <button type="button" className={styles.logout} onClick={onLogout}>
          Sign out
        </button>
      </div>
    </div>
  );
}
