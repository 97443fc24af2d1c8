// Search results in the sidebar: each found message with its conversation's title and the words
// around the match, the query's words marked; choosing one opens its conversation.

import { Link } from 'react-router';

import type { SearchHit } from '../api/types';
import { markMatches } from '../lib/conversationGroups';

import styles from './ConversationSidebar.module.css';

export interface SearchResultsProps {
  query: string;
  results: SearchHit[];
  isSearching: boolean;
  error: string | null;
  activeId: string | null;
  /** The title the sidebar shows for a conversation (the hit's own title is a fallback). */
  titleFor: (hit: SearchHit) => string;
  onChoose: () => void;
}

function summary({ results, isSearching, error }: SearchResultsProps): string {
  if (error !== null) return '';
  if (isSearching) return 'Searching…';
  if (results.length === 0) return 'No messages match.';
  return results.length === 1 ? '1 message found.' : `${results.length} messages found.`;
}

export function SearchResults(props: SearchResultsProps) {
  const { query, results, isSearching, error, activeId, titleFor, onChoose } = props;
  return (
    <div className={styles.results}>
      <p className={styles.muted} role="status">
        {summary(props)}
      </p>
      {error !== null && (
        <p className={styles.error} role="alert">
          {error}
        </p>
      )}
      {!isSearching && results.length > 0 && (
        <ul className={styles.list} aria-label="Search results">
          {results.map((hit) => {
            const title = titleFor(hit);
            return (
              <li key={hit.message_id}>
                <Link
                  to={`/chat/${hit.conversation_id}`}
                  className={styles.result}
                  aria-current={hit.conversation_id === activeId ? 'page' : undefined}
                  onClick={onChoose}
                >
                  <span className={styles.resultTitle}>{title}</span>
                  <span className={styles.snippet}>
                    <span className={styles.visuallyHidden}>
                      {hit.role === 'user' ? 'You: ' : 'Assistant: '}
                    </span>
                    {markMatches(hit.snippet, query).map((part, i) =>
                      part.match ? <mark key={i}>{part.text}</mark> : part.text,
                    )}
                  </span>
                </Link>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
