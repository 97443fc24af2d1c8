// What an answer's streamed text re-renders on the chat page: the message list, and not the
// page around it, its sidebar (every conversation's link) or its message box.

import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';

import type { Conversation, StartTurnRequest } from '../api/types';
import { chunk, complete, emit, signIn, start, waitForEventSource } from '../test/helpers';
import { currentPath, renderApp } from '../test/renderApp';
import { API, server, startedTurn } from '../test/server';

// Each render of the page calls useDocumentTitle once, and each render of the sidebar
// useConversationSearch once: counting the calls counts the renders.
const renders = vi.hoisted(() => ({ page: 0, sidebar: 0 }));

vi.mock('../hooks/useDocumentTitle', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../hooks/useDocumentTitle')>();
  return {
    ...actual,
    useDocumentTitle: (title: string) => {
      renders.page += 1;
      actual.useDocumentTitle(title);
    },
  };
});

vi.mock('../hooks/useConversationSearch', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../hooks/useConversationSearch')>();
  return {
    ...actual,
    useConversationSearch: () => {
      renders.sidebar += 1;
      return actual.useConversationSearch();
    },
  };
});

function conversation(id: string, title: string): Conversation {
  return { id, kind: 'chat', title, created_at: '2024-01-01', updated_at: '2024-01-01' };
}

beforeEach(() => {
  signIn();
  renders.page = 0;
  renders.sidebar = 0;
});

describe('ChatPage renders while an answer streams', () => {
  it('streamed text re-renders neither the page nor the sidebar', async () => {
    let sent = false;
    server.use(
      http.post(`${API}/chat/turns`, async ({ request }) => {
        sent = true;
        const body = (await request.json()) as StartTurnRequest;
        return HttpResponse.json(startedTurn(body, { messageId: 'a-1' }), { status: 202 });
      }),
      // The new conversation is listed once the message was sent.
      http.get(`${API}/chat/conversations`, () =>
        HttpResponse.json({
          items: [
            ...(sent ? [conversation('conv-1', 'About SSE')] : []),
            conversation('conv-0', 'Older chat'),
          ],
        }),
      ),
    );
    const { user } = renderApp('/chat');
    const input = await screen.findByRole('textbox', { name: 'Message' });
    expect(await screen.findByRole('link', { name: 'Older chat' })).toBeInTheDocument();
    await user.type(input, 'Explain SSE{Enter}');
    const es = await waitForEventSource();
    emit(es, start('a-1', 'conv-1'), chunk('Word0 ', 0));
    const log = screen.getByRole('log');
    await waitFor(() => {
      expect(log).toHaveTextContent('Word0');
    });
    // The new conversation's start: its address, and the sidebar's list asked for again.
    expect(await screen.findByRole('link', { name: 'About SSE' })).toBeInTheDocument();
    await waitFor(() => {
      expect(currentPath()).toBe('/chat/conv-1');
    });

    const page = renders.page;
    const sidebar = renders.sidebar;
    for (let i = 1; i <= 30; i += 1) {
      emit(es, chunk(`Word${i} `, i));
      // Each chunk waited for: one render of the text each, in frames of their own.
      await waitFor(() => {
        expect(log).toHaveTextContent(`Word${i}`);
      });
    }
    expect(within(log).getByText(/Word0 Word1 .* Word30/)).toBeInTheDocument();
    expect(renders.page - page).toBe(0);
    expect(renders.sidebar - sidebar).toBe(0);

    // The answer's end is the page's business again: Send comes back.
    emit(es, complete(31, 'a-1', 'conv-1'));
    expect(await screen.findByRole('button', { name: 'Send' })).toBeInTheDocument();
    expect(renders.page).toBeGreaterThan(page);
  });
});
