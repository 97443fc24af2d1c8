// The open conversation's details (its title, its kind) for the page's header and the sidebar:
// from the sidebar's list, or, for one the loaded pages do not hold (opened by its address, or
// from a search hit deep in the history), asked of the server (again after `reload`, say once
// it was renamed). What comes is shown at the next animation frame (lib/frame.ts), in the
// commit of that frame's streamed text, never in a commit of its own while an answer streams.

import { useCallback, useEffect, useState } from 'react';

import type { Conversation } from '../api/types';
import { scheduleFrame } from '../lib/frame';
import { chatService } from '../services/chatService';

export interface CurrentConversation {
  conversation: Conversation | undefined;
  /** It is in the loaded pages of the list (false while it is not known yet). */
  isListed: boolean;
  /** Ask the server for it again, if no loaded page holds it. */
  reload: () => void;
}

export function useCurrentConversation(
  conversationId: string | null,
  listed: Conversation[],
  isListLoading: boolean,
): CurrentConversation {
  const fromList =
    conversationId === null ? undefined : listed.find((c) => c.id === conversationId);
  const [fetched, setFetched] = useState<Conversation | null>(null);
  const [asked, setAsked] = useState(0);
  // Only once the first page is in: most conversations opened are on it.
  const wanted = fromList === undefined && !isListLoading ? conversationId : null;

  useEffect(() => {
    if (wanted === null) return;
    const abort = new AbortController();
    let cancelFrame: (() => void) | null = null;
    chatService.getConversation(wanted, abort.signal).then(
      (conversation) => {
        if (abort.signal.aborted) return;
        cancelFrame = scheduleFrame(() => {
          setFetched(conversation);
        });
      },
      () => {
        // Not found, or not reachable: the header says "Conversation", as before it loaded.
      },
    );
    return () => {
      abort.abort();
      cancelFrame?.();
    };
  }, [wanted, asked]);

  const reload = useCallback(() => {
    setAsked((count) => count + 1);
  }, []);

  return {
    conversation:
      fromList ?? (fetched !== null && fetched.id === conversationId ? fetched : undefined),
    isListed: fromList !== undefined,
    reload,
  };
}
