// The chat page end to end in jsdom: real hooks and services, REST mocked with MSW, the
// browser's EventSource replaced by a scriptable double.

import { act, screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';

import type {
  Conversation,
  MessagePage,
  SendMessageResponse,
  StartTurnRequest,
} from '../api/types';
import { FakeEventSource } from '../test/FakeEventSource';
import { chunk, complete, emit, signIn, start, waitForEventSource } from '../test/helpers';
import { currentPath, renderApp } from '../test/renderApp';
import {
  API,
  cancelled,
  makeConfig,
  makeMessage,
  makeUser,
  recordTurns,
  server,
  startedTurn,
} from '../test/server';

function conversation(id: string, title: string): Conversation {
  return { id, kind: 'chat', title, created_at: '2024-01-01', updated_at: '2024-01-01' };
}

async function openChat(path = '/chat') {
  const view = renderApp(path);
  const input = await screen.findByRole('textbox', { name: 'Message' });
  return { ...view, input };
}

beforeEach(() => {
  signIn();
});

describe('ChatPage streaming', () => {
  it('streams an answer word by word into a new conversation', async () => {
    let conversations: Conversation[] = [];
    server.use(
      http.get(`${API}/chat/conversations`, () => HttpResponse.json({ items: conversations })),
    );
    const turns = recordTurns({ messageId: 'a-1' });
    const { user, input } = await openChat();
    expect(screen.getByRole('heading', { name: /how can i help/i })).toBeInTheDocument();

    await user.type(input, 'Explain SSE{Enter}');
    const log = screen.getByRole('log');
    expect(within(log).getByText('Explain SSE')).toBeInTheDocument();
    expect(within(log).getByRole('img', { name: /assistant is typing/i })).toBeInTheDocument();
    expect(log).toHaveAttribute('aria-busy', 'true');

    const es = await waitForEventSource();
    expect(turns).toMatchObject([{ message: 'Explain SSE', kind: 'chat', conversation_id: null }]);
    expect(es.pathname).toBe('/api/v1/chat/messages/a-1/stream');
    expect(es.params.has('message')).toBe(false);

    conversations = [conversation('conv-1', 'About SSE')];
    emit(es, start('a-1', 'conv-1'), chunk('Server-Sent ', 0));
    expect(await within(log).findByText(/Server-Sent/)).toBeInTheDocument();
    emit(es, chunk('Events push **text**.', 1));
    expect(await within(log).findByText('text')).toBeInTheDocument();
    emit(es, complete(2, 'a-1', 'conv-1'));

    await waitFor(() => {
      expect(within(log).queryByRole('img', { name: /typing/i })).not.toBeInTheDocument();
    });
    expect(log).toHaveAttribute('aria-busy', 'false');
    expect(es.closed).toBe(true);
    expect(currentPath()).toBe('/chat/conv-1');
    expect(await screen.findByRole('link', { name: 'About SSE' })).toHaveAttribute(
      'aria-current',
      'page',
    );
    // Still the same conversation: the next message goes to it.
    await user.type(input, 'More{Enter}');
    await waitForEventSource(2);
    expect(turns[1]).toMatchObject({ message: 'More', conversation_id: 'conv-1' });
  });

  it('Esc stops the answer, keeps the text, cancels on the server and keeps focus', async () => {
    const stopped: string[] = [];
    server.use(
      http.post(`${API}/chat/messages/:id/cancel`, ({ params }) => {
        stopped.push(String(params.id));
        return HttpResponse.json(cancelled(String(params.id), 'Once upon a time'), {
          status: 202,
        });
      }),
    );
    recordTurns({ messageId: 'a-9' });
    const { user, input } = await openChat();
    await user.type(input, 'Long story{Enter}');
    const es = await waitForEventSource();
    emit(es, start('a-9'), chunk('Once upon a time', 0));
    await screen.findByText(/Once upon a time/);

    expect(input).toHaveFocus();
    await user.keyboard('{Escape}');

    await waitFor(() => {
      expect(es.closed).toBe(true);
    });
    expect(stopped).toEqual(['a-9']);
    expect(screen.getByText(/Once upon a time/)).toBeInTheDocument();
    expect(screen.getByText('Stopped')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Send' })).toBeInTheDocument();
    expect(input).toHaveFocus();
  });

  it('the Stop button stops the answer too', async () => {
    const { user, input } = await openChat();
    await user.type(input, 'Hi{Enter}');
    const es = await waitForEventSource();
    emit(es, start('a-2'), chunk('Partial', 0));
    await user.click(screen.getByRole('button', { name: 'Stop' }));
    expect(await screen.findByText('Stopped')).toBeInTheDocument();
    expect(es.closed).toBe(true);
  });

  it('Continue after Stop writes the rest into the same message, with Stop meanwhile', async () => {
    const stops: string[] = [];
    server.use(
      http.post(`${API}/chat/messages/:id/cancel`, ({ params }) => {
        stops.push(String(params.id));
        return HttpResponse.json(cancelled(String(params.id), 'Once upon'), { status: 202 });
      }),
    );
    recordTurns({ messageId: 'a-3' });
    const { user, input } = await openChat();
    await user.type(input, 'Tell me a story{Enter}');
    const es = await waitForEventSource();
    emit(es, start('a-3', 'conv-1'), chunk('Once upon', 0));
    await user.click(screen.getByRole('button', { name: 'Stop' }));
    expect(await screen.findByText('Stopped')).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Continue' }));
    const continued = await waitForEventSource(2);
    expect(continued.pathname).toBe('/api/v1/chat/messages/a-3/continue');
    expect(screen.queryByRole('button', { name: 'Continue' })).not.toBeInTheDocument();
    expect(screen.queryByText('Stopped')).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Stop' })).toBeInTheDocument();
    emit(continued, { ...start('a-3', 'conv-1'), prefix: 'Once upon' }, chunk(' a time', 1));
    const log = screen.getByRole('log');
    expect(await within(log).findByText('Once upon a time')).toBeInTheDocument();
    emit(continued, { ...complete(2, 'a-3', 'conv-1'), content: 'Once upon a time.' });

    expect(await within(log).findByText('Once upon a time.')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Send' })).toBeInTheDocument();
    const answers = within(log)
      .getAllByTestId('message')
      .filter((m) => m.dataset.role === 'assistant');
    expect(answers).toHaveLength(1);
    expect(answers[0]).toHaveAttribute('data-status', 'complete');
    expect(stops).toEqual(['a-3']);
  });

  it('shows a failed answer with Retry, which asks the server to answer the same message again', async () => {
    // A retry (regenerate) replaces the failed answer with a new one: a-1, then a-2.
    const turns: StartTurnRequest[] = [];
    server.use(
      http.post(`${API}/chat/turns`, async ({ request }) => {
        const body = (await request.json()) as StartTurnRequest;
        turns.push(body);
        return HttpResponse.json(startedTurn(body, { messageId: `a-${turns.length}` }), {
          status: 202,
        });
      }),
    );
    const { user, input } = await openChat();
    await user.type(input, 'Question{Enter}');
    const es = await waitForEventSource();
    emit(es, start('a-1'), {
      type: 'error',
      code: 'llm_error',
      message: 'The model is unavailable.',
      retryable: true,
    });
    // One wording per outcome: the words a reload of this failed answer shows.
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The assistant ran into a problem and could not finish this answer.',
    );

    await user.click(screen.getByRole('button', { name: 'Retry' }));
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    const retry = await waitForEventSource(2);
    expect(retry.pathname).toBe('/api/v1/chat/messages/a-2/stream');
    // The same send again, marked as a retry: the server does not store the question twice.
    expect(turns).toHaveLength(2);
    expect(turns[1]).toMatchObject({ message: 'Question', regenerate: true });
    expect(turns[1]?.client_message_id).toBe(turns[0]?.client_message_id);
    expect(turns[0]).not.toHaveProperty('regenerate');
    emit(retry, start('a-2'), chunk('Answer', 0), complete(1, 'a-2'));
    expect(await screen.findByText('Answer')).toBeInTheDocument();
    expect(screen.getAllByText('Question')).toHaveLength(1);
  });

  it("a send refused as too long shows the server's message, without Retry, and opens no stream", async () => {
    const tooLong = 'The message is 8001 characters long; the limit is 8000.';
    server.use(
      // The server's limit, lower than the one the page was told: the server has the last word.
      http.post(`${API}/chat/turns`, () =>
        HttpResponse.json(
          { error: { code: 'message_too_long', message: tooLong } },
          { status: 413 },
        ),
      ),
    );
    const { user, input } = await openChat();
    await user.type(input, 'Hi{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent(tooLong);
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Send' })).toBeInTheDocument();
    expect(FakeEventSource.instances).toHaveLength(0);
    expect(currentPath()).toBe('/chat'); // nothing was stored: no conversation
  });

  it('a send refused by the rate limit on its POST says when to try again', async () => {
    server.use(
      http.post(`${API}/chat/turns`, () =>
        HttpResponse.json(
          { error: { code: 'rate_limited', message: 'Slow down' } },
          { status: 429, headers: { 'Retry-After': '30' } },
        ),
      ),
    );
    const { user, input } = await openChat();
    await user.type(input, 'Hi{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent(
      "You're sending messages too quickly. Try again in 30 seconds.",
    );
    expect(FakeEventSource.instances).toHaveLength(0);
  });

  it('a refused stream start shows a readable, retryable error', async () => {
    const { user, input } = await openChat();
    await user.type(input, 'Hi{Enter}');
    const es = await waitForEventSource();
    act(() => {
      es.refuse();
    });
    expect(await screen.findByRole('alert')).toHaveTextContent(/couldn't start/i);
    expect(screen.getByRole('button', { name: 'Retry' })).toBeInTheDocument();
  });

  it('a rate limit says when to try again', async () => {
    server.use(
      http.post(`${API}/chat/stream-token`, () =>
        HttpResponse.json(
          { error: { code: 'rate_limited', message: 'Slow down' } },
          { status: 429, headers: { 'Retry-After': '30' } },
        ),
      ),
    );
    const { user, input } = await openChat();
    await user.type(input, 'Hi{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent(
      "You're sending messages too quickly. Try again in 30 seconds.",
    );
    expect(FakeEventSource.instances).toHaveLength(0);
  });

  it('refuses a second message while one is streaming', async () => {
    const { user, input } = await openChat();
    await user.type(input, 'One{Enter}');
    await waitForEventSource();
    await user.type(input, 'Two{Enter}');
    expect(within(screen.getByRole('log')).queryByText('Two')).not.toBeInTheDocument();
    expect(input).toHaveValue('Two');
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it('arriving chunks never take focus away from the box or the sidebar', async () => {
    const { user, input } = await openChat();
    await user.type(input, 'Hi{Enter}');
    const es = await waitForEventSource();
    emit(es, start('a-1'), chunk('Hello', 0));
    await screen.findByText(/Hello/);
    expect(input).toHaveFocus();

    const newChat = screen.getByRole('button', { name: /new chat/i });
    newChat.focus();
    emit(es, chunk(' world', 1));
    await screen.findByText(/Hello world/);
    expect(newChat).toHaveFocus();
  });

  it('loads an existing conversation and its earlier messages on demand', async () => {
    const requests: (string | null)[] = [];
    server.use(
      http.get(`${API}/chat/conversations/:id/messages`, ({ request }) => {
        const before = new URL(request.url).searchParams.get('before');
        requests.push(before);
        const page: MessagePage = before
          ? {
              items: [makeMessage({ id: 'old-1', role: 'user', content: 'Earliest question' })],
              has_more: false,
            }
          : {
              items: [
                makeMessage({ id: 'm-1', role: 'user', content: 'Recent question' }),
                makeMessage({ id: 'm-2', content: 'Recent answer' }),
              ],
              has_more: true,
            };
        return HttpResponse.json(page);
      }),
      http.get(`${API}/chat/conversations`, () =>
        HttpResponse.json({ items: [conversation('conv-1', 'Old chat')] }),
      ),
    );
    const { user } = await openChat('/chat/conv-1');
    expect(await screen.findByText('Recent answer')).toBeInTheDocument();
    // The list is shown at the animation frame after it arrives.
    expect(await screen.findByRole('heading', { name: 'Old chat' })).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: /load earlier/i }));
    expect(await screen.findByText('Earliest question')).toBeInTheDocument();
    // (StrictMode mounts twice, so the first page may be asked for twice.)
    expect(requests[0]).toBeNull();
    expect(requests.filter((before) => before !== null)).toEqual(['m-1']);
    expect(screen.queryByRole('button', { name: /load earlier/i })).not.toBeInTheDocument();
  });

  it('signs the user out to /login when the API answers 401', async () => {
    server.use(
      http.get(`${API}/chat/conversations`, () =>
        HttpResponse.json({ error: { code: 'unauthorized', message: 'Expired' } }, { status: 401 }),
      ),
    );
    renderApp('/chat');
    expect(await screen.findByRole('heading', { name: 'Welcome back' })).toBeInTheDocument();
    expect(currentPath()).toBe('/login');
  });

  it('sends a user who has not finished onboarding to it', async () => {
    server.use(
      http.get(`${API}/users/me`, () =>
        HttpResponse.json(makeUser({ onboarding_completed: false })),
      ),
    );
    renderApp('/chat');
    await waitFor(() => {
      expect(currentPath()).toBe('/onboarding');
    });
  });
});

describe('ChatPage without streaming (plan 13)', () => {
  /** Answers a whole message once `answered` resolves (30 ms after the request by default). */
  function answerWhole(
    content: string,
    answered: () => Promise<unknown> = () => new Promise((resolve) => setTimeout(resolve, 30)),
  ) {
    const bodies: unknown[] = [];
    server.use(
      http.post(`${API}/chat/message`, async ({ request }) => {
        bodies.push(await request.json());
        await answered();
        return HttpResponse.json<SendMessageResponse>({
          conversation_id: 'conv-5',
          user_message: makeMessage({
            id: 'u-5',
            role: 'user',
            content: 'Hi',
            conversation_id: 'conv-5',
          }),
          assistant_message: makeMessage({ id: 'a-5', content, conversation_id: 'conv-5' }),
          onboarding: null,
        });
      }),
    );
    return bodies;
  }

  it('uses the non-streaming endpoint with a loading indicator when the flag is off', async () => {
    server.use(
      http.get(`${API}/config`, () => HttpResponse.json(makeConfig({ streaming_enabled: false }))),
    );
    // The answer waits until the indicator has been seen: on a busy machine a fixed delay
    // could let the answer come before the test looked.
    let release: () => void = () => undefined;
    const seen = new Promise<void>((resolve) => {
      release = resolve;
    });
    const bodies = answerWhole('A whole answer.', () => seen);
    const { user, input } = await openChat();
    expect(screen.getByText('Streaming off')).toBeInTheDocument();

    await user.type(input, 'Hi{Enter}');
    expect(await screen.findByRole('img', { name: /assistant is thinking/i })).toBeInTheDocument();
    release();
    expect(await screen.findByText('A whole answer.')).toBeInTheDocument();
    expect(screen.queryByRole('img', { name: /thinking/i })).not.toBeInTheDocument();
    expect(FakeEventSource.instances).toHaveLength(0);
    expect(bodies[0]).toMatchObject({ message: 'Hi', conversation_id: null });
    await waitFor(() => {
      expect(currentPath()).toBe('/chat/conv-5');
    });
  });

  it('falls back to the non-streaming endpoint when EventSource is missing', async () => {
    vi.stubGlobal('EventSource', undefined);
    answerWhole('Fallback answer.');
    const { user, input } = await openChat();
    await user.type(input, 'Hi{Enter}');
    expect(await screen.findByText('Fallback answer.')).toBeInTheDocument();
  });

  it('streams when the flag is on', async () => {
    const { user, input } = await openChat();
    expect(screen.queryByText('Streaming off')).not.toBeInTheDocument();
    await user.type(input, 'Hi{Enter}');
    await waitForEventSource();
  });

  it('answers whole when the server refuses streaming (403 streaming_disabled) despite the config', async () => {
    server.use(
      http.post(`${API}/chat/stream-token`, () =>
        HttpResponse.json(
          { error: { code: 'streaming_disabled', message: 'Streaming is off' } },
          { status: 403 },
        ),
      ),
    );
    const bodies = answerWhole('Answered whole.');
    const { user, input } = await openChat();
    await user.type(input, 'Hi{Enter}');
    expect(await screen.findByText('Answered whole.')).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.getByText('Streaming off')).toBeInTheDocument();
    expect(bodies).toHaveLength(1);
    expect(FakeEventSource.instances).toHaveLength(0);
  });

  it('a model failure (502) shows the error and Retry', async () => {
    server.use(
      http.get(`${API}/config`, () => HttpResponse.json(makeConfig({ streaming_enabled: false }))),
      http.post(`${API}/chat/message`, () =>
        HttpResponse.json(
          { error: { code: 'llm_error', message: 'The model failed.' } },
          { status: 502 },
        ),
      ),
    );
    const { user, input } = await openChat();
    await user.type(input, 'Hi{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The assistant ran into a problem and could not finish this answer.',
    );
    expect(screen.getByRole('button', { name: 'Retry' })).toBeInTheDocument();
  });
});

describe('ChatPage: answers that outlive the page', () => {
  /** Two conversations; conv-1's newest answer is still being written. */
  function twoConversations(stops: string[] = []) {
    server.use(
      http.get(`${API}/chat/conversations`, () =>
        HttpResponse.json({
          items: [conversation('conv-1', 'Story'), conversation('conv-2', 'Other')],
        }),
      ),
      http.get(`${API}/chat/conversations/:id/messages`, ({ params }) =>
        HttpResponse.json<MessagePage>({
          items:
            params.id === 'conv-1'
              ? [
                  makeMessage({ id: 'u-1', role: 'user', content: 'Tell me a story' }),
                  makeMessage({
                    id: 'a-1',
                    content: 'Once up',
                    status: 'streaming',
                    completed_at: null,
                  }),
                ]
              : [makeMessage({ id: 'u-2', role: 'user', content: 'Something else' })],
          has_more: false,
        }),
      ),
      http.post(`${API}/chat/messages/:id/cancel`, ({ params }) => {
        stops.push(String(params.id));
        return HttpResponse.json(cancelled(String(params.id), 'Once upon'), { status: 202 });
      }),
    );
    return stops;
  }

  function answerText(scope: HTMLElement = document.body): string {
    const answers = within(scope)
      .getAllByTestId('message')
      .filter((m) => m.dataset.role === 'assistant');
    const text = answers.at(-1)?.querySelector('[data-testid="message-text"]')?.textContent;
    return (text ?? '').trim();
  }

  it('opening a conversation whose answer is still being written shows it growing, once', async () => {
    twoConversations();
    await openChat('/chat/conv-1');
    const es = await waitForEventSource();
    expect(es.pathname).toBe('/api/v1/chat/messages/a-1/stream');
    expect(screen.getByRole('button', { name: 'Stop' })).toBeInTheDocument();

    emit(es, start('a-1', 'conv-1'), chunk('Once ', 0), chunk('up', 1));
    await waitFor(() => {
      expect(answerText()).toBe('Once up');
    });
    emit(es, chunk('on a time.', 2));
    await waitFor(() => {
      expect(answerText()).toBe('Once upon a time.');
    });
    emit(es, complete(3, 'a-1', 'conv-1'));
    expect(await screen.findByRole('button', { name: 'Send' })).toBeInTheDocument();
    expect(answerText()).toBe('Once upon a time.');
    expect(es.closed).toBe(true);
  });

  it('switching conversation leaves the answer running; coming back follows it again', async () => {
    const stops = twoConversations();
    const { user } = await openChat('/chat/conv-1');
    const first = await waitForEventSource();
    emit(first, start('a-1', 'conv-1'), chunk('Once up', 0));

    await user.click(await screen.findByRole('link', { name: 'Other' }));
    expect(await screen.findByText('Something else')).toBeInTheDocument();
    expect(first.closed).toBe(true);
    expect(screen.getByRole('button', { name: 'Send' })).toBeInTheDocument();

    await user.click(screen.getByRole('link', { name: 'Story' }));
    const again = await waitForEventSource(2);
    expect(again.pathname).toBe('/api/v1/chat/messages/a-1/stream');
    emit(again, start('a-1', 'conv-1'), chunk('Once up', 0), chunk('on', 1));
    await waitFor(() => {
      expect(answerText()).toBe('Once upon');
    });
    expect(stops).toEqual([]);
  });

  it('New chat leaves the answer running too', async () => {
    const stops = twoConversations();
    const { user, input } = await openChat();
    await user.type(input, 'Tell me a story{Enter}');
    const es = await waitForEventSource();
    emit(es, start('a-5', 'conv-1'), chunk('Once', 0));
    await waitFor(() => {
      expect(currentPath()).toBe('/chat/conv-1');
    });
    await user.click(screen.getByRole('button', { name: /new chat/i }));
    await waitFor(() => {
      expect(currentPath()).toBe('/chat');
    });
    expect(es.closed).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stops).toEqual([]);
  });

  it('a second tab on the conversation sees the answer grow, cannot send, and its Stop stops both', async () => {
    const stops = twoConversations();
    recordTurns({ messageId: 'a-7', conversationId: 'conv-1' });
    server.use(
      http.get(`${API}/chat/conversations/:id/messages`, () =>
        HttpResponse.json<MessagePage>({
          items: [makeMessage({ id: 'u-0', role: 'user', content: 'Earlier question' })],
          has_more: false,
        }),
      ),
    );
    const first = renderApp('/chat/conv-1');
    const second = renderApp('/chat/conv-1');
    const firstTab = within(first.container);
    const secondTab = within(second.container);
    await secondTab.findByText('Earlier question');
    await first.user.type(
      await firstTab.findByRole('textbox', { name: 'Message' }),
      'Tell me a story{Enter}',
    );
    const sent = await waitForEventSource();
    emit(sent, start('a-7', 'conv-1'), chunk('Once', 0));

    const followed = await waitForEventSource(2);
    expect(followed.pathname).toBe('/api/v1/chat/messages/a-7/stream');
    expect(await secondTab.findByText('Tell me a story')).toBeInTheDocument();
    expect(secondTab.getByRole('button', { name: 'Stop' })).toBeInTheDocument();
    emit(followed, start('a-7', 'conv-1'), chunk('Once', 0));
    await waitFor(() => {
      expect(answerText(second.container)).toBe('Once');
    });

    await second.user.click(secondTab.getByRole('button', { name: 'Stop' }));
    expect(await secondTab.findByText('Stopped')).toBeInTheDocument();
    expect(stops).toEqual(['a-7']);
    // The server ends every reader's stream with `cancelled`.
    emit(sent, chunk(' upon', 1), {
      type: 'error',
      code: 'cancelled',
      message: 'This answer was stopped.',
      retryable: false,
    });
    expect(await firstTab.findByText('Stopped')).toBeInTheDocument();
    expect(answerText(first.container)).toBe('Once upon');
    expect(answerText(second.container)).toBe('Once upon');
    expect(firstTab.queryByRole('alert')).not.toBeInTheDocument();
    expect(firstTab.getByRole('button', { name: 'Send' })).toBeInTheDocument();
  });

  it("a second tab holds its send, saying why, until the other tab's answer ends", async () => {
    twoConversations();
    const turns = recordTurns({ messageId: 'a-7', conversationId: 'conv-1' });
    server.use(
      http.get(`${API}/chat/conversations/:id/messages`, () =>
        HttpResponse.json<MessagePage>({
          items: [makeMessage({ id: 'u-0', role: 'user', content: 'Earlier question' })],
          has_more: false,
        }),
      ),
    );
    const first = renderApp('/chat/conv-1');
    const second = renderApp('/chat/conv-1');
    const firstTab = within(first.container);
    const secondTab = within(second.container);
    await secondTab.findByText('Earlier question');
    await first.user.type(
      await firstTab.findByRole('textbox', { name: 'Message' }),
      'Tell me a story{Enter}',
    );
    const sent = await waitForEventSource();
    emit(sent, start('a-7', 'conv-1'), chunk('Once', 0));
    const followed = await waitForEventSource(2);

    const reason = /still being written in another tab/;
    await waitFor(() => {
      expect(within(second.container.querySelector('form')!).getByRole('status')).toHaveTextContent(
        reason,
      );
    });
    expect(within(first.container.querySelector('form')!).getByRole('status')).toHaveTextContent(
      '',
    );
    const box = secondTab.getByRole('textbox', { name: 'Message' });
    expect(box).toHaveAccessibleDescription(reason);
    await second.user.type(box, 'Me too?{Enter}');
    expect(turns).toHaveLength(1);
    expect(box).toHaveValue('Me too?');

    emit(
      followed,
      start('a-7', 'conv-1'),
      chunk('Once upon a time.', 0),
      complete(1, 'a-7', 'conv-1'),
    );
    emit(sent, chunk(' upon a time.', 1), complete(2, 'a-7', 'conv-1'));
    const send = await secondTab.findByRole('button', { name: 'Send' });
    expect(send).toHaveAttribute('aria-disabled', 'false');
    expect(within(second.container.querySelector('form')!).getByRole('status')).toHaveTextContent(
      '',
    );
    expect(box).toHaveValue('Me too?');
  });
});
