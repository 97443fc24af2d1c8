// MessagePager without React: the newest page on open, older pages on demand, errors shown.

import { describe, expect, it, vi } from 'vitest';

import type { Message, MessagePage } from '../api/types';
import { ApiError } from '../services/http';
import { ScriptedTransport } from '../test/ScriptedTransport';
import { makeMessage } from '../test/server';

import { ChatSession } from './ChatSession';
import { FIRST_PAGE_LIMIT, MessagePager } from './MessagePager';

function page(count: number, prefix: string): Message[] {
  return Array.from({ length: count }, (_, i) =>
    makeMessage({
      id: `${prefix}-${i}`,
      role: i % 2 === 0 ? 'user' : 'assistant',
      content: `${prefix} ${i}`,
    }),
  );
}

/** A listing whose answers the test hands out one by one. */
function deferredSource() {
  const pending: { resolve: (page: MessagePage) => void; reject: (reason: unknown) => void }[] = [];
  const listMessages = vi.fn(
    (_id: string, _page: { before?: string | null; limit?: number }, _signal?: AbortSignal) =>
      new Promise<MessagePage>((resolve, reject) => {
        pending.push({ resolve, reject });
      }),
  );
  const next = () => {
    const call = pending.shift();
    if (call === undefined) throw new Error('no listing is waiting');
    return call;
  };
  return { listMessages, next };
}

function setup(conversationId: string | null = 'conv-1', historyLimit = 50) {
  const streaming = new ScriptedTransport(true);
  const session = new ChatSession({
    isOnboarding: false,
    conversationId,
    transport: streaming,
    fallback: new ScriptedTransport(false),
    historyLimit,
  });
  const source = deferredSource();
  const pager = new MessagePager(session, source);
  return { session, streaming, source, pager };
}

describe('MessagePager', () => {
  it('is loading from the start when there is a conversation to show', () => {
    expect(setup('conv-1').pager.getSnapshot().isLoading).toBe(true);
    expect(setup(null).pager.getSnapshot().isLoading).toBe(false);
  });

  it('loads the newest few messages of the conversation it opens', async () => {
    const { session, source, pager } = setup();
    pager.open('conv-1');
    // A screenful or two, not a whole page of history: opening costs the same however long the
    // conversation is; the pages before come at the session's historyLimit (50).
    expect(FIRST_PAGE_LIMIT).toBeLessThan(50);
    expect(source.listMessages).toHaveBeenCalledWith(
      'conv-1',
      { limit: FIRST_PAGE_LIMIT },
      expect.anything(),
    );
    source.next().resolve({ items: page(4, 'old'), has_more: true });
    await vi.waitFor(() => {
      expect(pager.getSnapshot().isLoading).toBe(false);
    });
    expect(session.getSnapshot().messages).toHaveLength(4);
    expect(session.getSnapshot().hasEarlier).toBe(true);
    expect(pager.getSnapshot().error).toBeNull();
  });

  it('loads nothing for a new chat', () => {
    const { source, pager } = setup(null);
    pager.open(null);
    expect(source.listMessages).not.toHaveBeenCalled();
    expect(pager.getSnapshot()).toEqual({ isLoading: false, isLoadingEarlier: false, error: null });
  });

  it('drops the page of a conversation it has left', async () => {
    const { session, source, pager } = setup();
    pager.open('conv-1');
    const first = source.next();
    const firstSignal = source.listMessages.mock.calls[0]?.[2];
    pager.open('conv-2');
    expect(firstSignal?.aborted).toBe(true);
    first.resolve({ items: page(2, 'wrong'), has_more: false });
    source.next().resolve({ items: page(2, 'right'), has_more: false });
    await vi.waitFor(() => {
      expect(session.getSnapshot().messages).toHaveLength(2);
    });
    expect(session.getSnapshot().messages[0]?.serverId).toBe('right-0');
  });

  it('does not reload the conversation a send just started', () => {
    const { session, streaming, source, pager } = setup(null);
    pager.open(null);
    session.send('Hi');
    streaming.latest().start({ conversationId: 'conv-42' });
    pager.open('conv-42');
    expect(source.listMessages).not.toHaveBeenCalled();
    expect(session.getSnapshot().messages).toHaveLength(2);
  });

  it('shows a load failure as a readable error', async () => {
    const { source, pager } = setup();
    pager.open('conv-1');
    source.next().reject(new ApiError(404, 'not_found', 'Not found.'));
    await vi.waitFor(() => {
      expect(pager.getSnapshot()).toEqual({
        isLoading: false,
        isLoadingEarlier: false,
        error: 'Not found.',
      });
    });
  });

  it('loads earlier messages before the oldest one shown, and widens the window', async () => {
    const { session, streaming, source, pager } = setup('conv-1', 50);
    pager.open('conv-1');
    source.next().resolve({ items: page(50, 'recent'), has_more: false });
    await vi.waitFor(() => {
      expect(session.getSnapshot().messages).toHaveLength(50);
    });
    session.send('one more');
    streaming.latest().complete();
    expect(session.getSnapshot().messages[0]?.serverId).toBe('recent-2');
    expect(session.getSnapshot().hasEarlier).toBe(true);

    const loading = pager.loadEarlier();
    expect(pager.getSnapshot().isLoadingEarlier).toBe(true);
    expect(source.listMessages).toHaveBeenLastCalledWith('conv-1', {
      before: 'recent-2',
      limit: 50,
    });
    source.next().resolve({ items: page(2, 'recent'), has_more: false });
    await loading;
    expect(pager.getSnapshot().isLoadingEarlier).toBe(false);
    expect(session.getSnapshot().messages).toHaveLength(52);
    expect(session.getSnapshot().messages[0]?.serverId).toBe('recent-0');
    expect(session.getSnapshot().hasEarlier).toBe(false);
  });

  it('has no earlier page to load before the server knows any message', async () => {
    const { session, source, pager } = setup(null);
    session.send('Hi');
    await pager.loadEarlier();
    expect(source.listMessages).not.toHaveBeenCalled();
  });

  it('says so when an earlier page fails to load', async () => {
    const { source, pager } = setup();
    pager.open('conv-1');
    source.next().resolve({ items: page(2, 'recent'), has_more: true });
    await vi.waitFor(() => {
      expect(pager.getSnapshot().isLoading).toBe(false);
    });
    const loading = pager.loadEarlier();
    source.next().reject(new ApiError(0, 'network_error', "Can't reach the server."));
    await loading;
    expect(pager.getSnapshot()).toMatchObject({
      isLoadingEarlier: false,
      error: "Can't reach the server.",
    });
  });

  it('loads one earlier page at a time, and none once the server has no more', async () => {
    const { session, source, pager } = setup();
    pager.open('conv-1');
    source.next().resolve({ items: page(50, 'recent'), has_more: true });
    await vi.waitFor(() => {
      expect(pager.getSnapshot().isLoading).toBe(false);
    });

    const first = pager.loadEarlier();
    const second = pager.loadEarlier(); // the button pressed while a scroll's page is coming
    expect(source.listMessages).toHaveBeenCalledTimes(2);
    source.next().resolve({ items: page(10, 'older'), has_more: false });
    await Promise.all([first, second]);
    expect(session.getSnapshot().messages).toHaveLength(60);
    expect(session.getSnapshot().hasEarlier).toBe(false);

    await pager.loadEarlier();
    expect(source.listMessages).toHaveBeenCalledTimes(2);
  });
});
