import { describe, expect, it } from 'vitest';

import type { Conversation } from '../api/types';

import { compareListed, withFirstPage, withNextPage } from './conversationPages';

function at(id: string, updatedAt: string): Conversation {
  return { id, kind: 'chat', title: id, created_at: updatedAt, updated_at: updatedAt };
}

const ids = (conversations: Conversation[]) => conversations.map((c) => c.id);

describe('compareListed', () => {
  it('lists newer activity first, to the microsecond, then the greater id', () => {
    const a = at('a', '2026-12-05T10:00:00.000002Z');
    const b = at('b', '2026-12-05T10:00:00.000001Z');
    const c = at('c', '2026-12-05T10:00:00.000001Z');
    const d = at('d', '2026-12-05T10:00:00Z');
    expect([d, b, a, c].sort(compareListed).map((x) => x.id)).toEqual(['a', 'c', 'b', 'd']);
  });
});

describe('withFirstPage', () => {
  const shown = {
    conversations: [
      at('c5', '2026-12-05T10:05:00Z'),
      at('c4', '2026-12-05T10:04:00Z'),
      at('c3', '2026-12-05T10:03:00Z'),
      at('c2', '2026-12-05T10:02:00Z'),
      at('c1', '2026-12-05T10:01:00Z'),
    ],
    hasMore: true,
  };

  it('keeps the pages scrolled to after a fresh first page, once each', () => {
    // c2 had new activity: it is on the first page now, and not again further down.
    const page = [at('c2', '2026-12-05T10:09:00Z'), at('c5', '2026-12-05T10:05:00Z')];
    const next = withFirstPage(shown, { items: page, has_more: true });
    expect(ids(next.conversations)).toEqual(['c2', 'c5', 'c4', 'c3', 'c1']);
    expect(next.hasMore).toBe(true);
    expect(next.conversations[0]?.updated_at).toBe('2026-12-05T10:09:00Z');
  });

  it('is the page alone when the server has no more', () => {
    const page = [at('c6', '2026-12-05T10:06:00Z'), at('c5', '2026-12-05T10:05:00Z')];
    const next = withFirstPage(shown, { items: page, has_more: false });
    expect(ids(next.conversations)).toEqual(['c6', 'c5']);
    expect(next.hasMore).toBe(false);
  });

  it('drops what the page passed over: deleted elsewhere', () => {
    // c4 is gone: the page goes from c5 to c3, and the rest continues after c3.
    const page = [at('c5', '2026-12-05T10:05:00Z'), at('c3', '2026-12-05T10:03:00Z')];
    const next = withFirstPage(shown, { items: page, has_more: true });
    expect(ids(next.conversations)).toEqual(['c5', 'c3', 'c2', 'c1']);
  });

  it('says there is more when nothing scrolled to is left after the page', () => {
    const first = { conversations: [at('c5', '2026-12-05T10:05:00Z')], hasMore: true };
    const page = [at('c6', '2026-12-05T10:06:00Z'), at('c5', '2026-12-05T10:05:00Z')];
    const next = withFirstPage(first, { items: page, has_more: true });
    expect(ids(next.conversations)).toEqual(['c6', 'c5']);
    expect(next.hasMore).toBe(true);
  });
});

describe('withNextPage', () => {
  it('appends the page, without what is listed already', () => {
    const shown = {
      conversations: [at('c5', '2026-12-05T10:05:00Z'), at('c4', '2026-12-05T10:04:00Z')],
      hasMore: true,
    };
    const page = [at('c4', '2026-12-05T10:04:00Z'), at('c3', '2026-12-05T10:03:00Z')];
    const next = withNextPage(shown, { items: page, has_more: false });
    expect(ids(next.conversations)).toEqual(['c5', 'c4', 'c3']);
    expect(next.hasMore).toBe(false);
  });
});
