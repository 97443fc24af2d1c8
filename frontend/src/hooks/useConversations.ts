// The user's conversations for the sidebar, newest first (the onboarding one too): loaded,
// refreshed after each turn, renamed and deleted.

import { useCallback, useEffect, useState } from 'react';

import type { Conversation } from '../api/types';
import { chatService } from '../services/chatService';
import { ApiError } from '../services/http';

export interface UseConversations {
  conversations: Conversation[];
  isLoading: boolean;
  error: string | null;
  refresh: () => void;
  /** Renames on the server, then in the list; rejects with the server's reason. */
  rename: (conversationId: string, title: string) => Promise<void>;
  /** Deletes on the server (its messages too), then from the list. */
  remove: (conversationId: string) => Promise<void>;
}

function describe(reason: unknown, fallback: string): string {
  return reason instanceof ApiError ? reason.message : fallback;
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
        setConversations(list.items);
        setIsLoading(false);
        setError(null);
      },
      (reason: unknown) => {
        if (abort.signal.aborted) return;
        setIsLoading(false);
        setError(describe(reason, 'Could not load conversations.'));
      },
    );
    return () => {
      abort.abort();
    };
  }, [version]);

  const refresh = useCallback(() => {
    setVersion((v) => v + 1);
  }, []);

  const rename = useCallback(async (conversationId: string, title: string) => {
    try {
      const renamed = await chatService.renameConversation(conversationId, title);
      setConversations((list) => list.map((c) => (c.id === renamed.id ? renamed : c)));
    } catch (reason) {
      throw new Error(describe(reason, 'Could not rename the conversation.'));
    }
  }, []);

  const remove = useCallback(async (conversationId: string) => {
    try {
      await chatService.deleteConversation(conversationId);
    } catch (reason) {
      // Already gone (another tab deleted it): what the user asked for is done.
      if (!(reason instanceof ApiError && reason.status === 404)) {
        throw new Error(describe(reason, 'Could not delete the conversation.'));
      }
    }
    setConversations((list) => list.filter((c) => c.id !== conversationId));
  }, []);

  return { conversations, isLoading, error, refresh, rename, remove };
}
