// The user's conversations for the sidebar, newest first (the onboarding one too): loaded,
// refreshed after each turn, renamed and deleted.
//
// A list that arrives is shown at the next animation frame, from a store: if an answer is
// being written, its text is applied in that same frame, and React renders both in one commit
// (lib/frame.ts), instead of a commit of the list's own beside the text's. Asking for a
// refresh renders nothing until the list comes.

import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';

import type { Conversation } from '../api/types';
import { scheduleFrame } from '../lib/frame';
import { Store } from '../lib/store';
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

interface ConversationsState {
  conversations: Conversation[];
  isLoading: boolean;
  error: string | null;
}

/** The list being fetched: its request, and the frame that will show it once it came. */
interface Load {
  abort: AbortController;
  cancelFrame: (() => void) | null;
}

function describe(reason: unknown, fallback: string): string {
  return reason instanceof ApiError ? reason.message : fallback;
}

function cancel(load: Load | null): void {
  load?.abort.abort();
  load?.cancelFrame?.();
}

export function useConversations(): UseConversations {
  const [store] = useState(
    () => new Store<ConversationsState>({ conversations: [], isLoading: true, error: null }),
  );
  const { conversations, isLoading, error } = useSyncExternalStore(
    store.subscribe,
    store.getSnapshot,
  );
  const loading = useRef<Load | null>(null);

  const refresh = useCallback(() => {
    cancel(loading.current); // the newer list wins
    const load: Load = { abort: new AbortController(), cancelFrame: null };
    loading.current = load;
    const show = (patch: Partial<ConversationsState>) => {
      load.cancelFrame = scheduleFrame(() => {
        load.cancelFrame = null;
        if (loading.current === load) loading.current = null;
        store.update(patch);
      });
    };
    chatService.listConversations(load.abort.signal).then(
      (list) => {
        if (load.abort.signal.aborted) return;
        show({ conversations: list.items, isLoading: false, error: null });
      },
      (reason: unknown) => {
        if (load.abort.signal.aborted) return;
        show({ isLoading: false, error: describe(reason, 'Could not load conversations.') });
      },
    );
  }, [store]);

  useEffect(() => {
    refresh();
    return () => {
      cancel(loading.current);
      loading.current = null;
    };
  }, [refresh]);

  const rename = useCallback(
    async (conversationId: string, title: string) => {
      try {
        const renamed = await chatService.renameConversation(conversationId, title);
        store.update({
          conversations: store
            .getSnapshot()
            .conversations.map((c) => (c.id === renamed.id ? renamed : c)),
        });
      } catch (reason) {
        throw new Error(describe(reason, 'Could not rename the conversation.'));
      }
    },
    [store],
  );

  const remove = useCallback(
    async (conversationId: string) => {
      try {
        await chatService.deleteConversation(conversationId);
      } catch (reason) {
        // Already gone (another tab deleted it): what the user asked for is done.
        if (!(reason instanceof ApiError && reason.status === 404)) {
          throw new Error(describe(reason, 'Could not delete the conversation.'));
        }
      }
      store.update({
        conversations: store.getSnapshot().conversations.filter((c) => c.id !== conversationId),
      });
    },
    [store],
  );

  return { conversations, isLoading, error, refresh, rename, remove };
}
