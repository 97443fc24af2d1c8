// The chat page with the sidebar's conversation tools: the tab's title follows the open
// conversation, deleting it goes back to a new chat, the onboarding conversation is read-only.

import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it } from 'vitest';

import type { Conversation } from '../api/types';
import { signIn } from '../test/helpers';
import { currentPath, renderApp } from '../test/renderApp';
import { API, makeMessage, server } from '../test/server';

const NOW = new Date().toISOString();

function conversation(id: string, title: string | null, kind: Conversation['kind'] = 'chat') {
  return { id, kind, title, created_at: NOW, updated_at: NOW } satisfies Conversation;
}

let conversations: Conversation[] = [];

beforeEach(() => {
  signIn();
  conversations = [
    conversation('conv-1', 'About SSE'),
    conversation('conv-2', 'Kiwi recipes'),
    conversation('onboarding-conv', null, 'onboarding'),
  ];
  server.use(
    http.get(`${API}/chat/conversations`, ({ request }) => {
      // Every kind: the onboarding conversation is listed too.
      expect(new URL(request.url).searchParams.has('kind')).toBe(false);
      return HttpResponse.json({ items: conversations });
    }),
    http.patch(`${API}/chat/conversations/:id`, async ({ params, request }) => {
      const { title } = (await request.json()) as { title: string };
      conversations = conversations.map((c) => (c.id === params.id ? { ...c, title } : c));
      return HttpResponse.json(conversations.find((c) => c.id === params.id));
    }),
    http.delete(`${API}/chat/conversations/:id`, ({ params }) => {
      conversations = conversations.filter((c) => c.id !== params.id);
      return new HttpResponse(null, { status: 204 });
    }),
  );
});

describe('ChatPage conversations', () => {
  it('titles the browser tab after the open conversation, renamed too', async () => {
    const { user } = renderApp('/chat/conv-1');
    await waitFor(() => {
      expect(document.title).toBe('About SSE · ChatStream');
    });
    await user.click(screen.getByRole('button', { name: 'Rename “About SSE”' }));
    const box = screen.getByRole('textbox', { name: 'Conversation title' });
    await user.clear(box);
    await user.type(box, 'Server-Sent Events{Enter}');
    await waitFor(() => {
      expect(document.title).toBe('Server-Sent Events · ChatStream');
    });
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Server-Sent Events');
  });

  it('deleting the open conversation goes back to a new chat', async () => {
    const { user } = renderApp('/chat/conv-1');
    await user.click(await screen.findByRole('button', { name: 'Delete “About SSE”' }));
    await user.click(screen.getByRole('button', { name: 'Delete' }));
    await waitFor(() => {
      expect(currentPath()).toBe('/chat');
    });
    const nav = screen.getByRole('navigation', { name: 'Conversations' });
    expect(within(nav).queryByRole('link', { name: 'About SSE' })).toBeNull();
    expect(within(nav).getByRole('link', { name: 'Kiwi recipes' })).toBeVisible();
    expect(document.title).toBe('New chat · ChatStream');
  });

  it('opens the onboarding conversation to read, without a message box', async () => {
    server.use(
      http.get(`${API}/chat/conversations/:id/messages`, () =>
        HttpResponse.json({
          items: [makeMessage({ conversation_id: 'onboarding-conv', content: 'Welcome!' })],
          has_more: false,
        }),
      ),
    );
    renderApp('/chat/onboarding-conv');
    expect(await screen.findByText('Welcome!')).toBeVisible();
    await waitFor(() => {
      expect(document.title).toBe('Getting to know you · ChatStream');
    });
    expect(screen.queryByRole('textbox', { name: 'Message' })).toBeNull();
    expect(screen.getByText(/kept here to read/)).toBeVisible();
  });
});
