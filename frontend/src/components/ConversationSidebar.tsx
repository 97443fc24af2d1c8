// The sidebar: brand, "New chat", a search over the user's messages, the open conversation when
// no loaded page holds it, the conversations grouped by date (each with Rename and Delete; the
// next page as the list is scrolled to its end), and the account footer.

import { useEffect, useMemo, useRef } from 'react';
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
  /** The open conversation when no loaded page holds it: shown first, apart from the pages. */
  openConversation?: Conversation;
  /** The server has more conversations than listed; `onLoadMore` asks for the next page. */
  hasMore?: boolean;
  isLoadingMore?: boolean;
  moreError?: string | null;
  onLoadMore?: () => void;
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
  openConversation,
  hasMore = false,
  isLoadingMore = false,
  moreError = null,
  onLoadMore,
  now,
}: ConversationSidebarProps) {
  const search = useConversationSearch();
  const groups = useMemo(() => groupByDate(conversations, now), [conversations, now]);
  // The open conversation that no loaded page holds goes first, in a group of its own.
  const shownGroups: { label: string; conversations: Conversation[] }[] =
    openConversation === undefined
      ? groups
      : [{ label: 'Open now', conversations: [openConversation] }, ...groups];
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
            {!isLoading &&
              error === null &&
              conversations.length === 0 &&
              openConversation === undefined && (
                <p className={styles.muted}>No conversations yet.</p>
              )}
            {shownGroups.map((group) => {
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
            {hasMore && onLoadMore !== undefined && (
              <MoreConversations
                listed={conversations.length}
                isLoading={isLoadingMore}
                error={moreError}
                onLoadMore={onLoadMore}
              />
            )}
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

/** The end of a list the server has more of: the next page is asked for as this scrolls into
 * view (within a screen of it), or on a click; after a failure, only on a click. */
function MoreConversations({
  listed,
  isLoading,
  error,
  onLoadMore,
}: {
  listed: number;
  isLoading: boolean;
  error: string | null;
  onLoadMore: () => void;
}) {
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const element = button.current;
    if (element === null || error !== null || typeof IntersectionObserver === 'undefined') return;
    // Observed anew for each page: a page that does not fill the list asks for the next.
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) onLoadMore();
      },
      { root: element.closest('nav'), rootMargin: '100% 0px' },
    );
    observer.observe(element);
    return () => {
      observer.disconnect();
    };
  }, [listed, error, onLoadMore]);

  return (
    <div className={styles.more}>
      {error !== null && (
        <p className={styles.error} role="alert">
          {error}
        </p>
      )}
      <button
        ref={button}
        type="button"
        className={styles.moreButton}
        disabled={isLoading}
        onClick={onLoadMore}
      >
        {isLoading ? 'Loading more…' : 'Show more conversations'}
      </button>
    </div>
  );
}
