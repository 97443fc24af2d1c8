import { describe, expect, it } from 'vitest';

import type { Conversation } from '../api/types';

import {
  calendarDaysBetween,
  conversationTitle,
  dateGroupOf,
  groupByDate,
  markMatches,
} from './conversationGroups';

function at(y: number, m: number, d: number, h = 12, min = 0): Date {
  return new Date(y, m - 1, d, h, min);
}

function conversation(id: string, updated: Date, title: string | null = id): Conversation {
  return {
    id,
    kind: 'chat',
    title,
    created_at: updated.toISOString(),
    updated_at: updated.toISOString(),
  };
}

describe('dateGroupOf', () => {
  const now = at(2026, 3, 10, 9, 30);

  it('puts anything earlier on the same calendar day in Today, even just after midnight', () => {
    expect(dateGroupOf(at(2026, 3, 10, 0, 1).toISOString(), now)).toBe('Today');
    expect(dateGroupOf(at(2026, 3, 10, 9, 29).toISOString(), now)).toBe('Today');
  });

  it('counts calendar days, not 24-hour periods', () => {
    expect(dateGroupOf(at(2026, 3, 9, 23, 59).toISOString(), now)).toBe('Yesterday');
    expect(dateGroupOf(at(2026, 3, 9, 0, 0).toISOString(), now)).toBe('Yesterday');
    expect(dateGroupOf(at(2026, 3, 8, 23, 59).toISOString(), now)).toBe('Previous 7 days');
    expect(dateGroupOf(at(2026, 3, 3).toISOString(), now)).toBe('Previous 7 days');
    expect(dateGroupOf(at(2026, 3, 2).toISOString(), now)).toBe('Older');
  });

  it('keeps a time slightly ahead of the local clock in Today', () => {
    expect(dateGroupOf(at(2026, 3, 10, 9, 31).toISOString(), now)).toBe('Today');
  });

  it('measures a day across a daylight-saving change as one day', () => {
    expect(calendarDaysBetween(at(2026, 3, 28, 12), at(2026, 3, 30, 12))).toBe(2);
    expect(calendarDaysBetween(at(2026, 10, 24, 12), at(2026, 10, 26, 12))).toBe(2);
  });
});

describe('groupByDate', () => {
  it('returns the non-empty groups in order, each newest first', () => {
    const now = at(2026, 3, 10, 18);
    const groups = groupByDate(
      [
        conversation('old', at(2025, 12, 1)),
        conversation('today-early', at(2026, 3, 10, 8)),
        conversation('week', at(2026, 3, 5)),
        conversation('today-late', at(2026, 3, 10, 17)),
      ],
      now,
    );
    expect(groups.map((g) => [g.label, g.conversations.map((c) => c.id)])).toEqual([
      ['Today', ['today-late', 'today-early']],
      ['Previous 7 days', ['week']],
      ['Older', ['old']],
    ]);
  });

  it('returns no groups for no conversations', () => {
    expect(groupByDate([], at(2026, 3, 10))).toEqual([]);
  });
});

describe('conversationTitle', () => {
  it('names an untitled conversation by its kind', () => {
    expect(conversationTitle({ title: '  Trip  ', kind: 'chat' })).toBe('Trip');
    expect(conversationTitle({ title: null, kind: 'chat' })).toBe('New conversation');
    expect(conversationTitle({ title: ' ', kind: 'onboarding' })).toBe('Getting to know you');
  });
});

describe('markMatches', () => {
  it('marks whole words that start with a query word, in any case', () => {
    expect(markMatches('Python lists: pythonic, PYTHON!', 'pyth')).toEqual([
      { text: 'Python', match: true },
      { text: ' lists: ', match: false },
      { text: 'pythonic', match: true },
      { text: ', ', match: false },
      { text: 'PYTHON', match: true },
      { text: '!', match: false },
    ]);
  });

  it('ignores the punctuation of the query, as the server does', () => {
    const parts = markMatches('a "quoted" NEAR word', '"NEAR(" -word*');
    expect(parts.filter((p) => p.match).map((p) => p.text)).toEqual(['NEAR', 'word']);
  });

  it('marks nothing for a query without words, and keeps the text whole', () => {
    expect(markMatches('Hello, world', '*** "')).toEqual([{ text: 'Hello, world', match: false }]);
  });
});
