// How the sidebar arranges conversations: by the day of their latest activity, in the user's
// own time zone; and which words of a search snippet to mark.

import type { Conversation } from '../api/types';

export type DateGroupLabel = 'Today' | 'Yesterday' | 'Previous 7 days' | 'Older';

export interface DateGroup {
  label: DateGroupLabel;
  conversations: Conversation[];
}

const LABELS: DateGroupLabel[] = ['Today', 'Yesterday', 'Previous 7 days', 'Older'];

/** Whole calendar days from `then` to `now` in local time (0: the same day). */
export function calendarDaysBetween(then: Date, now: Date): number {
  const startOf = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  // Rounded: a day across a daylight-saving change is 23 or 25 hours long.
  return Math.round((startOf(now) - startOf(then)) / 86_400_000);
}

export function dateGroupOf(updatedAt: string, now: Date): DateGroupLabel {
  const days = calendarDaysBetween(new Date(updatedAt), now);
  if (days <= 0) return 'Today'; // a clock a little behind the server's: still today
  if (days === 1) return 'Yesterday';
  if (days <= 7) return 'Previous 7 days';
  return 'Older';
}

/** The conversations in date groups (empty groups left out), each newest first. */
export function groupByDate(conversations: Conversation[], now: Date = new Date()): DateGroup[] {
  const byLabel = new Map<DateGroupLabel, Conversation[]>(LABELS.map((label) => [label, []]));
  const newestFirst = [...conversations].sort((a, b) => b.updated_at.localeCompare(a.updated_at));
  for (const conversation of newestFirst) {
    byLabel.get(dateGroupOf(conversation.updated_at, now))?.push(conversation);
  }
  return LABELS.map((label) => ({ label, conversations: byLabel.get(label) ?? [] })).filter(
    (group) => group.conversations.length > 0,
  );
}

export function conversationTitle(conversation: Pick<Conversation, 'title' | 'kind'>): string {
  const title = conversation.title?.trim();
  if (title) return title;
  return conversation.kind === 'onboarding' ? 'Getting to know you' : 'New conversation';
}

export interface SnippetPart {
  text: string;
  match: boolean;
}

const WORD = /[\p{L}\p{N}]+/gu;

/**
 * The snippet in parts, a word marked when it starts with one of the query's words (the
 * server matches each word as a prefix, case-insensitively; punctuation is not searched).
 */
export function markMatches(snippet: string, query: string): SnippetPart[] {
  const terms = (query.toLowerCase().match(WORD) ?? []).filter((t) => t !== '');
  const parts: SnippetPart[] = [];
  const push = (text: string, match: boolean) => {
    const last = parts.at(-1);
    if (last !== undefined && last.match === match) last.text += text;
    else if (text !== '') parts.push({ text, match });
  };
  let end = 0;
  for (const found of snippet.matchAll(WORD)) {
    const word = found[0];
    const start = found.index;
    push(snippet.slice(end, start), false);
    const lower = word.toLowerCase();
    push(
      word,
      terms.some((term) => lower.startsWith(term)),
    );
    end = start + word.length;
  }
  push(snippet.slice(end), false);
  return parts;
}
