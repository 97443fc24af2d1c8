// A chat's history on screen: the newest page when the conversation changes, older pages on
// demand, and whether there are more (MessagePager, bound to React).

import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';

import type { ChatSession } from '../chat/ChatSession';
import { MessagePager } from '../chat/MessagePager';
import type { MessageSource } from '../chat/MessagePager';

export interface HistoryState {
  isLoading: boolean;
  isLoadingEarlier: boolean;
  hasEarlier: boolean;
  error: string | null;
}

export interface UseMessageHistory {
  history: HistoryState;
  loadEarlier: () => Promise<void>;
}

/** `source` is read once, on the first render. */
export function useMessageHistory(
  session: ChatSession,
  source: MessageSource,
  conversationId: string | null,
): UseMessageHistory {
  const [pager] = useState(() => new MessagePager(session, source));

  // Opening another conversation lets go of the answer of the one we leave; it goes on, and
  // opening a conversation whose answer is still being written follows it (ChatSession).
  useEffect(() => {
    pager.open(conversationId);
    return () => {
      pager.cancel();
    };
  }, [pager, conversationId]);

  const state = useSyncExternalStore(pager.subscribe, pager.getSnapshot);
  const hasEarlier = useSyncExternalStore(
    session.subscribe,
    () => session.getSnapshot().hasEarlier,
  );
  const loadEarlier = useCallback(() => pager.loadEarlier(), [pager]);

  return { history: { ...state, hasEarlier }, loadEarlier };
}
