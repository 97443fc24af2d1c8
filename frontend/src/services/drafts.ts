// Unsent messages kept in localStorage, one per user and conversation (and one for a new chat),
// so a reload, a closed tab or a sign-in after the session expired never loses what was typed.
// Keyed by the user's id: another account on the same browser never sees them.

const PREFIX = 'chatstream.draft';
/** The draft of the chat not started yet. */
export const NEW_CONVERSATION = 'new';
/** A draft longer than this keeps its beginning (the server takes far less in one message). */
export const MAX_DRAFT_CHARS = 32_000;
/** Drafts kept per user; saving one more forgets the oldest. */
export const MAX_DRAFTS_PER_USER = 20;

interface StoredDraft {
  text: string;
  savedAt: number;
}

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled (privacy mode): drafts then last as long as the page
  }
}

function userPrefix(userId: string): string {
  return `${PREFIX}:${userId}:`;
}

function keyOf(userId: string, conversationKey: string): string {
  return `${userPrefix(userId)}${conversationKey}`;
}

function parse(raw: string | null): StoredDraft | null {
  if (raw === null) return null;
  try {
    const parsed = JSON.parse(raw) as Partial<StoredDraft>;
    if (typeof parsed.text === 'string' && typeof parsed.savedAt === 'number') {
      return { text: parsed.text, savedAt: parsed.savedAt };
    }
  } catch {
    /* a corrupt entry is no draft */
  }
  return null;
}

/** The user's keys, oldest draft first. */
function userDrafts(store: Storage, userId: string): { key: string; savedAt: number }[] {
  const prefix = userPrefix(userId);
  const found: { key: string; savedAt: number }[] = [];
  for (let i = 0; i < store.length; i += 1) {
    const key = store.key(i);
    if (key?.startsWith(prefix) !== true) continue;
    found.push({ key, savedAt: parse(store.getItem(key))?.savedAt ?? 0 });
  }
  return found.sort((a, b) => a.savedAt - b.savedAt);
}

export function loadDraft(userId: string, conversationKey: string): string {
  return parse(storage()?.getItem(keyOf(userId, conversationKey)) ?? null)?.text ?? '';
}

/** Keeps `text` as the draft (an empty text forgets it). */
export function saveDraft(
  userId: string,
  conversationKey: string,
  text: string,
  now: number = Date.now(),
): void {
  const store = storage();
  if (store === null) return;
  const key = keyOf(userId, conversationKey);
  if (text === '') {
    store.removeItem(key);
    return;
  }
  const draft: StoredDraft = { text: text.slice(0, MAX_DRAFT_CHARS), savedAt: now };
  try {
    store.setItem(key, JSON.stringify(draft));
  } catch {
    return; // storage full: the draft lives in the page only
  }
  const drafts = userDrafts(store, userId);
  for (const old of drafts.slice(0, Math.max(0, drafts.length - MAX_DRAFTS_PER_USER))) {
    store.removeItem(old.key);
  }
}

/** Forgets every draft of the user (they signed out on purpose). */
export function clearDrafts(userId: string): void {
  const store = storage();
  if (store === null) return;
  for (const { key } of userDrafts(store, userId)) store.removeItem(key);
}
