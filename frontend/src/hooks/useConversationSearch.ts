// Search over the user's messages as they type: one request per pause in typing, the stale
// ones aborted, so the results always belong to the words in the box.

import { useEffect, useState } from 'react';

import type { SearchHit } from '../api/types';
import { chatService } from '../services/chatService';
import { ApiError } from '../services/http';

export const SEARCH_DEBOUNCE_MS = 250;

export interface UseConversationSearch {
  query: string;
  setQuery: (query: string) => void;
  /** True while the query has words in it: the sidebar shows results instead of the list. */
  isActive: boolean;
  results: SearchHit[];
  isSearching: boolean;
  error: string | null;
}

export function useConversationSearch(): UseConversationSearch {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<SearchHit[]>([]);
  const [isSearching, setIsSearching] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const trimmed = query.trim();

  useEffect(() => {
    if (trimmed === '') {
      setResults([]);
      setIsSearching(false);
      setError(null);
      return;
    }
    setIsSearching(true);
    const abort = new AbortController();
    const timer = setTimeout(() => {
      chatService.searchMessages(trimmed, abort.signal).then(
        (found) => {
          setResults(found.items);
          setError(null);
          setIsSearching(false);
        },
        (reason: unknown) => {
          if (abort.signal.aborted) return;
          setResults([]);
          setError(reason instanceof ApiError ? reason.message : 'Search failed.');
          setIsSearching(false);
        },
      );
    }, SEARCH_DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [trimmed]);

  return { query, setQuery, isActive: trimmed !== '', results, isSearching, error };
}
