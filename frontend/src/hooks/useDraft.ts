// The message box's text for one conversation, kept as the user's draft (services/drafts.ts):
// read when the conversation opens, saved as it changes, forgotten once the server has taken
// the message. Until then the stored copy stays: a send cut short (the session ended, the page
// closed) finds its text again.

import { useCallback, useState } from 'react';

import { loadDraft, NEW_CONVERSATION, saveDraft } from '../services/drafts';

export interface Draft {
  text: string;
  setText: (text: string) => void;
  /** The box empties for a send; the stored draft stays until accepted() or restore(). */
  sent: () => void;
  /** The sent message is in the conversation: its stored copy goes (unless typed anew). */
  accepted: () => void;
  /** A refused send's text back in the box, before anything typed since. */
  restore: (text: string) => void;
}

export function useDraft(userId: string | null, conversationId: string | null): Draft {
  const conversationKey = conversationId ?? NEW_CONVERSATION;
  const owner = userId === null ? null : `${userId}:${conversationKey}`;
  const read = (): string => (userId === null ? '' : loadDraft(userId, conversationKey));
  const [state, setState] = useState(() => ({ owner, text: read() }));
  let current = state;
  if (state.owner !== owner) {
    // Another conversation (or user): its own draft, read during render so no frame shows
    // the previous one.
    current = { owner, text: read() };
    setState(current);
  }

  const setText = useCallback(
    (text: string) => {
      setState({ owner, text });
      if (userId !== null) saveDraft(userId, conversationKey, text);
    },
    [owner, userId, conversationKey],
  );
  const shown = current.text;
  const sent = useCallback(() => {
    setState({ owner, text: '' });
  }, [owner]);
  const accepted = useCallback(() => {
    if (userId !== null && shown === '') saveDraft(userId, conversationKey, '');
  }, [userId, conversationKey, shown]);
  const restore = useCallback(
    (text: string) => {
      setText(shown.trim() === '' ? text : `${text}\n\n${shown}`);
    },
    [setText, shown],
  );
  return { text: shown, setText, sent, accepted, restore };
}
