// The user's conversations for the sidebar, newest first (the onboarding one too): loaded a
// page at a time (the next when the user scrolls to the end), refreshed after each turn (the
// first page again, joined with the pages scrolled to), renamed and deleted.
//
// A list that arrives is shown at the next animation frame, from a store: if an answer is
// being written, its text is applied in that same frame, and React renders both in one commit
// (lib/frame.ts), instead of a commit of the list's own beside the text's. Asking for a
// refresh renders nothing until the list comes.

import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';

import type { Conversation } from '../api/types';
import { withFirstPage, withNextPage } from '../lib/conversationPages';
import { scheduleFrame } from '../lib/frame';
import { Store } from '../lib/store';
import { chatService } from '../services/chatService';
import { ApiError } from '../services/http';

export interface UseConversations {
  conversations: Conversation[];
  isLoading: boolean;
  error: string | null;
  /** Whether the server has conversations after the last one listed. */
  hasMore: boolean;
  isLoadingMore: boolean;
  /** Why the last page asked for did not come (asking again may bring it). */
  moreError: string | null;
  refresh: () => void;
  /** The next page, after the last conversation listed. */
  loadMore: () => void;
  /** Renames on the server, then in the list; rejects with the server's reason. */
  rename: (conversationId: string, title: string) => Promise<void>;
  /** Deletes on the server (its messages too), then from the list. */
  remove: (conversationId: string) => Promise<void>;
}

interface ConversationsState {
  conversations: Conversation[];
  isLoading: boolean;
  error: string | null;
  hasMore: boolean;
  isLoadingMore: boolean;
  moreError: string | null;
}

const INITIAL: ConversationsState = {
  conversations: [],
  isLoading: true,
  error: null,
  hasMore: false,
  isLoadingMore: false,
  moreError: null,
};

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
  const [store] = useState(() => new Store<ConversationsState>(INITIAL));
  const state = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const loading = useRef<Load | null>(null);
  const loadingMore = useRef<Load | null>(null);

  /** Starts `load`: `request` fetches, `arrived` makes what the list becomes, shown at the next
   * frame unless another load replaced this one meanwhile. */
  const start = useCallback(
    <T>(
      slot: { current: Load | null },
      request: (signal: AbortSignal) => Promise<T>,
      arrived: (result: T) => Partial<ConversationsState>,
      failed: (reason: unknown) => Partial<ConversationsState>,
    ) => {
      const load: Load = { abort: new AbortController(), cancelFrame: null };
      slot.current = load;
      const show = (patch: () => Partial<ConversationsState>) => {
        load.cancelFrame = scheduleFrame(() => {
          load.cancelFrame = null;
          if (slot.current === load) slot.current = null;
          store.update(patch());
        });
      };
      request(load.abort.signal).then(
        (result) => {
          if (!load.abort.signal.aborted) show(() => arrived(result));
        },
        (reason: unknown) => {
          if (!load.abort.signal.aborted) show(() => failed(reason));
        },
      );
    },
    [store],
  );

  const refresh = useCallback(() => {
    cancel(loading.current); // the newer list wins
    cancel(loadingMore.current); // a page after the old list's end: asked again if need be
    loadingMore.current = null;
    start(
      loading,
      (signal) => chatService.listConversations({}, signal),
      (page) => ({
        // Joined when shown, with the list as it is then (renamed, deleted meanwhile).
        ...withFirstPage(store.getSnapshot(), page),
        isLoading: false,
        error: null,
        isLoadingMore: false,
      }),
      (reason) => ({
        isLoading: false,
        isLoadingMore: false,
        error: describe(reason, 'Could not load conversations.'),
      }),
    );
  }, [start, store]);

  const loadMore = useCallback(() => {
    const { conversations, hasMore } = store.getSnapshot();
    const last = conversations.at(-1);
    if (!hasMore || last === undefined || loading.current !== null) return;
    if (loadingMore.current !== null) return;
    store.update({ isLoadingMore: true, moreError: null });
    start(
      loadingMore,
      (signal) => chatService.listConversations({ before: last.id }, signal),
      (page) => ({
        ...withNextPage(store.getSnapshot(), page),
        isLoadingMore: false,
      }),
      (reason) => {
        if (reason instanceof ApiError && reason.status === 404) {
          // The last one listed was deleted elsewhere: the list is read again from the top.
          queueMicrotask(refresh);
          return { isLoadingMore: false };
        }
        return {
          isLoadingMore: false,
          moreError: describe(reason, 'Could not load more conversations.'),
        };
      },
    );
  }, [refresh, start, store]);

  useEffect(() => {
    refresh();
    return () => {
      cancel(loading.current);
      cancel(loadingMore.current);
      loading.current = null;
      loadingMore.current = null;
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

  return { ...state, refresh, loadMore, rename, remove };
}
