// The sidebar's list a page at a time against a server holding more conversations than a page:
// the next page as the list is scrolled to its end (or on the button), a refresh that keeps the
// pages scrolled to, and the header of a conversation no loaded page holds.

import { act, screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { Conversation, ConversationList } from '../api/types';
import { chunk, complete, emit, signIn, start, waitForEventSource } from '../test/helpers';
import { renderApp } from '../test/renderApp';
import { API, makeMessage, server } from '../test/server';

const START = Date.parse('2026-12-01T12:00:00Z');

/** Conversation `i` of `count`, the newest first: activity one minute apart. */
function conversation(i: number, kind: Conversation['kind'] = 'chat'): Conversation {
  const when = new Date(START - i * 60_000).toISOString();
  const id = `conv-${String(i).padStart(3, '0')}`;
  return { id, kind, title: `Topic ${i}`, created_at: when, updated_at: when };
}

let stored: Conversation[] = [];
let pagesAsked: (string | null)[] = [];

/** The server's paging: newest first, `before` the last of the page before, `limit` each. */
function page(url: URL): ConversationList | null {
  const before = url.searchParams.get('before');
  const limit = Number(url.searchParams.get('limit') ?? 50);
  pagesAsked.push(before);
  let from = 0;
  if (before !== null) {
    const at = stored.findIndex((c) => c.id === before);
    if (at < 0) return null;
    from = at + 1;
  }
  return { items: stored.slice(from, from + limit), has_more: from + limit < stored.length };
}

/** The `before` of each page asked for after the first (React's strict mode asks for the first
 * page twice when the page mounts). */
function cursorsAsked(): string[] {
  return pagesAsked.filter((before): before is string => before !== null);
}

function nav() {
  return screen.getByRole('navigation', { name: 'Conversations' });
}

function listedTitles(): string[] {
  return within(nav())
    .getAllByRole('link')
    .map((link) => link.textContent);
}

beforeEach(() => {
  signIn();
  pagesAsked = [];
  stored = Array.from({ length: 120 }, (_, i) => conversation(i));
  server.use(
    http.get(`${API}/chat/conversations`, ({ request }) => {
      const found = page(new URL(request.url));
      if (found === null) {
        return HttpResponse.json(
          { error: { code: 'not_found', message: 'Not one of yours.' } },
          { status: 404 },
        );
      }
      return HttpResponse.json(found);
    }),
    http.get(`${API}/chat/conversations/:id`, ({ params }) => {
      const found = stored.find((c) => c.id === params.id);
      return found
        ? HttpResponse.json(found)
        : HttpResponse.json(
            { error: { code: 'not_found', message: 'Conversation not found.' } },
            { status: 404 },
          );
    }),
  );
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('ChatPage conversations, a page at a time', () => {
  it('lists the first page, then the next ones on “Show more”, each once, to the end', async () => {
    const { user } = renderApp('/chat');
    await waitFor(() => {
      expect(listedTitles()).toHaveLength(50);
    });
    expect(listedTitles()[0]).toBe('Topic 0');
    await user.click(screen.getByRole('button', { name: 'Show more conversations' }));
    await waitFor(() => {
      expect(listedTitles()).toHaveLength(100);
    });
    await user.click(screen.getByRole('button', { name: 'Show more conversations' }));
    await waitFor(() => {
      expect(listedTitles()).toHaveLength(120);
    });
    expect(listedTitles()).toEqual(stored.map((c) => c.title));
    expect(screen.queryByRole('button', { name: 'Show more conversations' })).toBeNull();
    expect(cursorsAsked()).toEqual(['conv-049', 'conv-099']);
  });

  it('asks for the next page when the end of the list scrolls into view', async () => {
    // The observers the page has connected (and not disconnected) to the end of the list.
    const observing = new Set<{ callback: IntersectionObserverCallback; element: Element }>();
    class EndOfListObserver {
      private watched: { callback: IntersectionObserverCallback; element: Element } | null = null;
      constructor(private readonly callback: IntersectionObserverCallback) {}
      observe(element: Element) {
        this.watched = { callback: this.callback, element };
        observing.add(this.watched);
      }
      disconnect() {
        if (this.watched !== null) observing.delete(this.watched);
      }
    }
    vi.stubGlobal('IntersectionObserver', EndOfListObserver);
    renderApp('/chat');
    await waitFor(() => {
      expect(listedTitles()).toHaveLength(50);
    });
    expect(cursorsAsked()).toEqual([]);
    expect(observing.size).toBe(1);
    for (const { callback, element } of observing) {
      const entry = {
        isIntersecting: true,
        target: element,
      } as unknown as IntersectionObserverEntry;
      act(() => {
        callback([entry], {} as IntersectionObserver);
      });
    }
    await waitFor(() => {
      expect(listedTitles()).toHaveLength(100);
    });
    expect(cursorsAsked()).toEqual(['conv-049']);
  });

  it('keeps the pages scrolled to when the list is refreshed, with the newest on top', async () => {
    const { user } = renderApp('/chat/conv-000');
    await user.click(await screen.findByRole('button', { name: 'Show more conversations' }));
    await waitFor(() => {
      expect(listedTitles()).toHaveLength(100);
    });
    // Meanwhile Topic 70 got an answer in another tab: it moved to the top, and the refresh
    // after this turn shows it there, once.
    const moved = { ...conversation(70), updated_at: new Date(START + 60_000).toISOString() };
    stored = [moved, ...stored.filter((c) => c.id !== moved.id)];
    await user.type(screen.getByRole('textbox', { name: 'Message' }), 'Hello{Enter}');
    const es = await waitForEventSource();
    emit(es, start('a-1', 'conv-000'), chunk('Hi', 0), complete(1, 'a-1', 'conv-000'));
    await waitFor(() => {
      expect(listedTitles()[0]).toBe('Topic 70');
    });
    const titles = listedTitles();
    expect(titles).toHaveLength(100);
    expect(new Set(titles).size).toBe(100);
    expect(titles.slice(1, 71)).toEqual(stored.slice(1, 71).map((c) => c.title));
  });

  it('reads the list again from the top when the last one listed was deleted elsewhere', async () => {
    const { user } = renderApp('/chat');
    await waitFor(() => {
      expect(listedTitles()).toHaveLength(50);
    });
    stored = stored.filter((c) => c.id !== 'conv-049');
    const firstPagesBefore = pagesAsked.filter((before) => before === null).length;
    await user.click(screen.getByRole('button', { name: 'Show more conversations' }));
    await waitFor(() => {
      expect(pagesAsked.filter((before) => before === null)).toHaveLength(firstPagesBefore + 1);
    });
    expect(cursorsAsked()).toEqual(['conv-049']);
    await waitFor(() => {
      expect(listedTitles()).not.toContain('Topic 49');
    });
    expect(listedTitles()).toHaveLength(50);
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('says so when a page does not come, and asks again on the button', async () => {
    const { user } = renderApp('/chat');
    await waitFor(() => {
      expect(listedTitles()).toHaveLength(50);
    });
    server.use(
      http.get(
        `${API}/chat/conversations`,
        () =>
          HttpResponse.json(
            { error: { code: 'internal', message: 'The server could not list them.' } },
            { status: 500 },
          ),
        { once: true },
      ),
    );
    await user.click(screen.getByRole('button', { name: 'Show more conversations' }));
    expect(await within(nav()).findByRole('alert')).toHaveTextContent(
      'The server could not list them.',
    );
    expect(listedTitles()).toHaveLength(50);
    await user.click(screen.getByRole('button', { name: 'Show more conversations' }));
    await waitFor(() => {
      expect(listedTitles()).toHaveLength(100);
    });
    expect(within(nav()).queryByRole('alert')).toBeNull();
  });

  it('titles a conversation that no loaded page holds, and lists it apart until a page does', async () => {
    const { user } = renderApp('/chat/conv-110');
    await waitFor(() => {
      expect(document.title).toBe('Topic 110 · ChatStream');
    });
    const openNow = screen.getByRole('region', { name: 'Open now' });
    const link = within(openNow).getByRole('link', { name: 'Topic 110' });
    expect(link).toHaveAttribute('aria-current', 'page');
    expect(listedTitles()).toHaveLength(51);
    // The pages brought to it: it is listed once, in its place, and no longer apart.
    await user.click(screen.getByRole('button', { name: 'Show more conversations' }));
    await user.click(await screen.findByRole('button', { name: 'Show more conversations' }));
    await waitFor(() => {
      expect(listedTitles()).toHaveLength(120);
    });
    expect(screen.queryByRole('region', { name: 'Open now' })).toBeNull();
    expect(listedTitles()).toEqual(stored.map((c) => c.title));
  });

  it('renames a conversation listed apart, in the sidebar and the header', async () => {
    let renamedTo: string | null = null;
    server.use(
      http.patch(`${API}/chat/conversations/:id`, async ({ params, request }) => {
        const { title } = (await request.json()) as { title: string };
        renamedTo = title.trim();
        stored = stored.map((c) => (c.id === params.id ? { ...c, title: renamedTo } : c));
        return HttpResponse.json(stored.find((c) => c.id === params.id));
      }),
    );
    const { user } = renderApp('/chat/conv-110');
    const openNow = await screen.findByRole('region', { name: 'Open now' });
    await user.click(within(openNow).getByRole('button', { name: 'Rename “Topic 110”' }));
    const box = within(openNow).getByRole('textbox');
    await user.clear(box);
    await user.type(box, '  Old notes {Enter}');
    await waitFor(() => {
      expect(document.title).toBe('Old notes · ChatStream');
    });
    expect(renamedTo).toBe('Old notes');
    expect(within(openNow).getByRole('link', { name: 'Old notes' })).toBeVisible();
  });

  it('leaves the conversation listed apart once it is deleted', async () => {
    let deleted: string | null = null;
    server.use(
      http.delete(`${API}/chat/conversations/:id`, ({ params }) => {
        deleted = String(params.id);
        stored = stored.filter((c) => c.id !== params.id);
        return new HttpResponse(null, { status: 204 });
      }),
    );
    const { user } = renderApp('/chat/conv-110');
    const openNow = await screen.findByRole('region', { name: 'Open now' });
    await user.click(within(openNow).getByRole('button', { name: 'Delete “Topic 110”' }));
    await user.click(within(openNow).getByRole('button', { name: 'Delete' }));
    await waitFor(() => {
      expect(document.title).toBe('New chat · ChatStream');
    });
    expect(deleted).toBe('conv-110');
    expect(screen.queryByRole('region', { name: 'Open now' })).toBeNull();
    expect(listedTitles()).toHaveLength(50);
  });

  it('opens the onboarding conversation from past the first page without a message box', async () => {
    stored = [...stored, { ...conversation(500, 'onboarding'), title: null }];
    server.use(
      http.get(`${API}/chat/conversations/:id/messages`, () =>
        HttpResponse.json({
          items: [makeMessage({ conversation_id: 'conv-500', content: 'Welcome!' })],
          has_more: false,
        }),
      ),
    );
    renderApp('/chat/conv-500');
    expect(await screen.findByText('Welcome!')).toBeVisible();
    await waitFor(() => {
      expect(document.title).toBe('Getting to know you · ChatStream');
    });
    expect(screen.queryByRole('textbox', { name: 'Message' })).toBeNull();
  });
});
