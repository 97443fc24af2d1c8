// The sidebar's list is loaded a page at a time, newest activity first (the server's order:
// `updated_at`, then id, both descending). A refresh asks for the first page again; these
// functions join what comes with the pages already shown, so that a refresh never loses a
// page the user scrolled to, and nothing is listed twice.

import type { Conversation } from '../api/types';

export interface ConversationPages {
  conversations: Conversation[];
  /** Whether the server has conversations after the last one listed. */
  hasMore: boolean;
}

/** A time of activity in microseconds: the server's order, which milliseconds would blur. */
function activity(conversation: Conversation): number {
  const stamp = conversation.updated_at;
  const fraction = /\.(\d+)/.exec(stamp)?.[1] ?? '';
  return Date.parse(stamp) * 1000 + Number(fraction.slice(3, 6).padEnd(3, '0'));
}

/** Negative when `a` is listed before `b` (newer activity, or the same and a greater id). */
export function compareListed(a: Conversation, b: Conversation): number {
  const byActivity = activity(b) - activity(a);
  if (byActivity !== 0) return byActivity;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * The list once a fresh first page came: the page, then the conversations listed before that
 * come after its last one (the pages scrolled to since). One of those that the page holds
 * moved up (new activity) and is listed there alone. Without more pages, the page is all.
 */
export function withFirstPage(
  shown: ConversationPages,
  page: { items: Conversation[]; has_more: boolean },
): ConversationPages {
  const last = page.items.at(-1);
  if (!page.has_more || last === undefined) {
    return { conversations: page.items, hasMore: page.has_more };
  }
  const onPage = new Set(page.items.map((c) => c.id));
  const rest = shown.conversations.filter((c) => !onPage.has(c.id) && compareListed(last, c) < 0);
  return {
    conversations: [...page.items, ...rest],
    hasMore: rest.length > 0 ? shown.hasMore : true,
  };
}

/** The list with the next page after it: a conversation listed already stays where it is. */
export function withNextPage(
  shown: ConversationPages,
  page: { items: Conversation[]; has_more: boolean },
): ConversationPages {
  const listed = new Set(shown.conversations.map((c) => c.id));
  return {
    conversations: [...shown.conversations, ...page.items.filter((c) => !listed.has(c.id))],
    hasMore: page.has_more,
  };
}
