import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it } from 'vitest';

import type { SendMessageResponse } from '../api/types';
import { getAccessToken } from '../services/session';
import { FakeEventSource } from '../test/FakeEventSource';
import { chunk, complete, emit, signIn, start, waitForEventSource } from '../test/helpers';
import { currentPath, renderApp } from '../test/renderApp';
import {
  API,
  makeConfig,
  makeMessage,
  makeOnboarding,
  makeUser,
  recordTurns,
  server,
} from '../test/server';

const GREETING = 'Hi! I am your assistant. What should I call you?';

beforeEach(() => {
  signIn();
  server.use(
    http.get(`${API}/users/me`, () => HttpResponse.json(makeUser({ onboarding_completed: false }))),
    http.get(`${API}/chat/conversations/:id/messages`, ({ params }) =>
      HttpResponse.json({
        items:
          params.id === 'onboarding-conv'
            ? [makeMessage({ id: 'greet', conversation_id: 'onboarding-conv', content: GREETING })]
            : [],
        has_more: false,
      }),
    ),
  );
});

async function openOnboarding() {
  const view = renderApp('/onboarding');
  const input = await screen.findByRole('textbox', { name: 'Your answer' });
  await screen.findByText(GREETING);
  return { ...view, input };
}

describe('OnboardingChatPage', () => {
  it('shows the greeting and the progress, and streams each answer, sent as an onboarding turn', async () => {
    const turns = recordTurns({ messageId: 'a-1', conversationId: 'onboarding-conv' });
    const { user, input } = await openOnboarding();
    const progress = screen.getByRole('progressbar', { name: 'Onboarding progress' });
    expect(progress).toHaveAttribute('value', '0');
    expect(screen.getByText('Step 1 of 3')).toBeInTheDocument();

    await user.type(input, 'Call me Ada{Enter}');
    const es = await waitForEventSource();
    expect(turns).toEqual([
      {
        message: 'Call me Ada',
        client_message_id: expect.any(String) as unknown,
        kind: 'onboarding',
      },
    ]);
    expect(es.pathname).toBe('/api/v1/chat/messages/a-1/stream');

    emit(es, start('a-1', 'onboarding-conv'), chunk('Nice to meet you, Ada. ', 0));
    emit(es, chunk('What do you do?', 1));
    expect(await screen.findByText(/What do you do\?/)).toBeInTheDocument();
    emit(es, complete(2, 'a-1', 'onboarding-conv', { progress: 1 / 3, completed: false }));

    await waitFor(() => {
      expect(screen.getByText('Step 2 of 3')).toBeInTheDocument();
    });
    expect(progress).toHaveAttribute('value', '33');
    expect(currentPath()).toBe('/onboarding');
  });

  it('takes the user to the chat when onboarding completes', async () => {
    server.use(
      http.get(`${API}/onboarding`, () =>
        HttpResponse.json(makeOnboarding({ current_step: 2, progress: 2 / 3 })),
      ),
    );
    const { user, input } = await openOnboarding();
    expect(screen.getByText('Step 3 of 3')).toBeInTheDocument();

    await user.type(input, 'Help me write{Enter}');
    const es = await waitForEventSource();
    emit(
      es,
      start('a-3', 'onboarding-conv'),
      chunk('All set!', 0),
      complete(1, 'a-3', 'onboarding-conv', { progress: 1, completed: true }),
    );

    const done = await screen.findByText(/you're all set/i);
    expect(done).toBeInTheDocument();
    expect(screen.getByText('All done')).toBeInTheDocument();
    expect(screen.queryByRole('textbox', { name: 'Your answer' })).not.toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: /continue to chat/i }));
    await waitFor(() => {
      expect(currentPath()).toBe('/chat');
    });
    expect(await screen.findByRole('textbox', { name: 'Message' })).toBeInTheDocument();
  });

  it('uses the non-streaming onboarding endpoint when streaming is off', async () => {
    server.use(
      http.get(`${API}/config`, () => HttpResponse.json(makeConfig({ streaming_enabled: false }))),
      http.post(`${API}/chat/onboarding-message`, () =>
        HttpResponse.json<SendMessageResponse>({
          conversation_id: 'onboarding-conv',
          user_message: makeMessage({ role: 'user', content: 'Ada' }),
          assistant_message: makeMessage({ content: 'Thanks, Ada. What do you do?' }),
          onboarding: { progress: 1 / 3, completed: false },
        }),
      ),
    );
    const { user, input } = await openOnboarding();
    await user.type(input, 'Ada{Enter}');
    expect(await screen.findByText('Thanks, Ada. What do you do?')).toBeInTheDocument();
    expect(screen.getByText('Step 2 of 3')).toBeInTheDocument();
  });

  it('a reload mid-answer follows the answer in place and takes its progress', async () => {
    server.use(
      http.get(`${API}/chat/conversations/:id/messages`, () =>
        HttpResponse.json({
          items: [
            makeMessage({ id: 'greet', conversation_id: 'onboarding-conv', content: GREETING }),
            makeMessage({ id: 'u-1', role: 'user', content: 'Call me Ada' }),
            makeMessage({ id: 'a-1', content: 'Nice to', status: 'streaming', completed_at: null }),
          ],
          has_more: false,
        }),
      ),
    );
    renderApp('/onboarding');
    const es = await waitForEventSource();
    expect(es.pathname).toBe('/api/v1/chat/messages/a-1/stream');
    expect(screen.getByRole('button', { name: 'Stop' })).toBeInTheDocument();
    emit(
      es,
      start('a-1', 'onboarding-conv'),
      chunk('Nice to ', 0),
      chunk('meet you, Ada. What do you do?', 1),
      complete(2, 'a-1', 'onboarding-conv', { progress: 1 / 3, completed: false }),
    );
    expect(await screen.findByText('Nice to meet you, Ada. What do you do?')).toBeInTheDocument();
    expect(await screen.findByText('Step 2 of 3')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Send' })).toBeInTheDocument();
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it('offers no Continue on a stopped onboarding answer (it is retried instead)', async () => {
    server.use(
      http.get(`${API}/chat/conversations/:id/messages`, () =>
        HttpResponse.json({
          items: [
            makeMessage({ id: 'greet', conversation_id: 'onboarding-conv', content: GREETING }),
            makeMessage({ id: 'u-1', role: 'user', content: 'Call me Ada' }),
            makeMessage({ id: 'a-1', content: 'Nice to', status: 'cancelled' }),
          ],
          has_more: false,
        }),
      ),
    );
    renderApp('/onboarding');
    expect(await screen.findByText('Stopped')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Continue' })).not.toBeInTheDocument();
  });

  it('sends an onboarded user on to the chat', async () => {
    server.use(http.get(`${API}/users/me`, () => HttpResponse.json(makeUser())));
    renderApp('/onboarding');
    await waitFor(() => {
      expect(currentPath()).toBe('/chat');
    });
  });
});

describe('Chat and onboarding look and behave alike (plan 8.3)', () => {
  function structure() {
    const log = screen.getByRole('log');
    const messages = within(log).getAllByTestId('message');
    return {
      log: [
        log.tagName,
        log.className,
        log.getAttribute('aria-live'),
        log.getAttribute('aria-busy'),
      ],
      message: messages.map((m) => [m.tagName, m.className, m.dataset.role, m.dataset.streaming]),
      composer: screen.getByRole('form', { name: 'Send a message' }).className,
      stopButtons: screen.getAllByRole('button', { name: 'Stop' }).length,
    };
  }

  it('renders the same MessageList and composer on both pages', async () => {
    const onboarding = await openOnboarding();
    await onboarding.user.type(onboarding.input, 'Ada{Enter}');
    emit(await waitForEventSource(), start('a-1', 'onboarding-conv'), chunk('Hello', 0));
    await screen.findByText(/Hello/);
    const onboardingStructure = structure();
    onboarding.unmount();

    server.use(
      http.get(`${API}/users/me`, () => HttpResponse.json(makeUser())),
      http.get(`${API}/chat/conversations/:id/messages`, () =>
        HttpResponse.json({
          items: [makeMessage({ id: 'g', content: GREETING })],
          has_more: false,
        }),
      ),
    );
    const chat = renderApp('/chat/conv-1');
    const input = await screen.findByRole('textbox', { name: 'Message' });
    await screen.findByText(GREETING);
    await chat.user.type(input, 'Ada{Enter}');
    emit(await waitForEventSource(2), start('a-2', 'conv-1'), chunk('Hello', 0));
    await screen.findByText(/Hello/);

    expect(structure()).toEqual(onboardingStructure);
  });
});

describe('OnboardingChatPage: Skip and Sign out', () => {
  it('Skip marks the onboarding done on the server and goes to the chat', async () => {
    let skips = 0;
    server.use(
      http.post(`${API}/onboarding/skip`, () => {
        skips += 1;
        return HttpResponse.json(makeOnboarding({ completed: true }));
      }),
    );
    const { user } = await openOnboarding();
    const skip = screen.getByRole('button', { name: 'Skip for now' });
    expect(skip).toHaveAccessibleDescription('You can change your answers any time in Settings.');
    await user.click(skip);
    await waitFor(() => {
      expect(currentPath()).toBe('/chat');
    });
    expect(skips).toBe(1);
  });

  it('stays, saying why, when Skip fails', async () => {
    server.use(
      http.post(`${API}/onboarding/skip`, () =>
        HttpResponse.json(
          { error: { code: 'database_unavailable', message: 'The database is unreachable.' } },
          { status: 503 },
        ),
      ),
    );
    const { user } = await openOnboarding();
    await user.click(screen.getByRole('button', { name: 'Skip for now' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The database is unreachable.');
    expect(currentPath()).toBe('/onboarding');
    expect(screen.getByRole('button', { name: 'Skip for now' })).toBeEnabled();
  });

  it('Sign out leaves the onboarding for the sign-in page', async () => {
    const { user } = await openOnboarding();
    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    await waitFor(() => {
      expect(currentPath()).toBe('/login');
    });
    expect(getAccessToken()).toBeNull();
  });
});
