// What is typed is never lost: a refused send gives its text back, a draft outlives a reload,
// belongs to one user, and waits through a sign-in after the session expired.

import { screen, waitFor } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it } from 'vitest';

import { FakeEventSource } from '../test/FakeEventSource';
import { signIn } from '../test/helpers';
import { currentPath, renderApp } from '../test/renderApp';
import { API, makeUser, server } from '../test/server';

async function openChat(path = '/chat') {
  const view = renderApp(path);
  const input = await screen.findByRole('textbox', { name: 'Message' });
  return { ...view, input };
}

beforeEach(() => {
  signIn();
});

describe('ChatPage drafts', () => {
  it('a send refused at the rate limit keeps its text in the box, says why, leaves no bubble', async () => {
    server.use(
      http.post(`${API}/chat/stream-token`, () =>
        HttpResponse.json(
          { error: { code: 'rate_limited', message: 'Too many messages.' } },
          { status: 429, headers: { 'Retry-After': '3600' } },
        ),
      ),
    );
    const { user, input } = await openChat();
    await user.type(input, 'Please keep this{Enter}');

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(
      "You're sending messages too quickly. Try again in 60 minutes.",
    );
    expect(input).toHaveValue('Please keep this');
    expect(input).toHaveAccessibleDescription(/too quickly/);
    expect(screen.queryAllByTestId('message')).toHaveLength(0);
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
    expect(FakeEventSource.instances).toHaveLength(0);
  });

  it('a send refused as too long (413) keeps its text with the server message', async () => {
    const tooLong = 'The message is 8001 characters long; the limit is 8000.';
    server.use(
      http.post(`${API}/chat/turns`, () =>
        HttpResponse.json(
          { error: { code: 'message_too_long', message: tooLong } },
          { status: 413 },
        ),
      ),
    );
    const { user, input } = await openChat('/chat/conv-1');
    await user.type(input, 'Long enough{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent(tooLong);
    expect(input).toHaveValue('Long enough');
  });

  it('a draft survives a reload, per conversation, and is gone once sent', async () => {
    const first = await openChat('/chat/conv-1');
    await first.user.type(first.input, 'Half a thought');
    first.unmount();

    const other = await openChat('/chat/conv-2');
    expect(other.input).toHaveValue('');
    other.unmount();

    const again = await openChat('/chat/conv-1');
    expect(again.input).toHaveValue('Half a thought');
    await again.user.type(again.input, ', finished{Enter}');
    await waitFor(() => {
      expect(again.input).toHaveValue('');
    });
    again.unmount();

    const afterSend = await openChat('/chat/conv-1');
    expect(afterSend.input).toHaveValue('');
  });

  it('a sent draft is kept until the server takes the message: a page closed meanwhile finds it', async () => {
    server.use(http.post(`${API}/chat/turns`, () => new Promise<never>(() => undefined)));
    const first = await openChat('/chat/conv-1');
    await first.user.type(first.input, 'On its way{Enter}');
    expect(first.input).toHaveValue('');
    first.unmount(); // closed before the POST was answered

    const again = await openChat('/chat/conv-1');
    expect(again.input).toHaveValue('On its way');
  });

  it("another account on the same browser never sees the first one's draft", async () => {
    const first = await openChat('/chat');
    await first.user.type(first.input, 'Private words');
    first.unmount();

    server.use(http.get(`${API}/users/me`, () => HttpResponse.json(makeUser({ id: 'user-2' }))));
    const second = await openChat('/chat');
    expect(second.input).toHaveValue('');
  });

  it('signing out forgets the drafts', async () => {
    const { user, input } = await openChat('/chat/conv-1');
    await user.type(input, 'Not for the next person');
    await user.click(screen.getByRole('button', { name: /sign out/i }));
    await screen.findByRole('button', { name: 'Sign in' });
    expect(
      Object.keys(window.localStorage).filter((key) => key.startsWith('chatstream.draft')),
    ).toEqual([]);
  });

  it('an expired session sends the user to sign in, then back to the conversation and the draft', async () => {
    const { user, input } = await openChat('/chat/conv-1');
    server.use(
      http.post(`${API}/chat/stream-token`, () =>
        HttpResponse.json(
          { error: { code: 'unauthorized', message: 'Not authenticated.' } },
          { status: 401 },
        ),
      ),
    );
    await user.type(input, 'Typed before the session ended{Enter}');

    await screen.findByRole('button', { name: 'Sign in' });
    expect(currentPath()).toBe('/login');
    expect(screen.getByText(/Your session has ended/)).toHaveAttribute('role', 'status');

    server.use(
      http.post(`${API}/auth/token`, () =>
        HttpResponse.json({
          access_token: 'access-token-2',
          token_type: 'bearer',
          expires_in: 3600,
        }),
      ),
    );
    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Password'), 'correct horse');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    const box = await screen.findByRole('textbox', { name: 'Message' });
    expect(currentPath()).toBe('/chat/conv-1');
    expect(box).toHaveValue('Typed before the session ended');
  });
});
