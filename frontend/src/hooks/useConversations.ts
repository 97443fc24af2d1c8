// The user's chat conversations for the sidebar, newest first.

import { useCallback, useEffect, useState } from 'react';

import type { Conversation } from '../api/types';
import { chatService } from '../services/chatService';
import { ApiError } from '../services/http';

export interface UseConversations {
  conversations: Conversation[];
  isLoading: boolean;
  error: string | null;
  refresh: () => void;
}

export function useConversations(): UseConversations {
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [isLoading, setIsLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    chatService.listConversations(abort.signal).then(
      (list) => {
        setConversations(list.items.filter((c) => c.kind === 'chat'));
        setIsLoading(false);
        setError(null);
      },
      (reason: unknown) => {
        if (abort.signal.aborted) return;
        setIsLoading(false);
        setError(reason instanceof ApiError ? reason.message : 'Could not load conversations.');
      },
    );
    return () => {
      abort.abort();
    };
  }, [version]);

  const refresh = useCallback(() => {
    setVersion((v) => v + 1);
  }, []);

  return { conversations, isLoading, error, refresh };
}
