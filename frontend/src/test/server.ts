// MSW server for REST calls, with default handlers for a signed-in, onboarded user.
// Unhandled requests fail the test (onUnhandledRequest: 'error' in setup.ts).

import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';

import type {
  CancelResponse,
  ChatTurn,
  ConversationList,
  Message,
  MessagePage,
  OnboardingState,
  ServerConfig,
  StartTurnRequest,
  User,
} from '../api/types';

export const API = '/api/v1';

export function makeUser(overrides: Partial<User> = {}): User {
  return {
    id: 'user-1',
    email: 'ada@example.com',
    display_name: 'Ada',
    created_at: '2024-01-01T00:00:00Z',
    onboarding_completed: true,
    ...overrides,
  };
}

export function makeConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    streaming_enabled: true,
    max_message_chars: 8000,
    stream_token_expire_seconds: 300,
    stream_ping_interval_s: 15,
    ...overrides,
  };
}

let messageSeq = 0;
export function makeMessage(overrides: Partial<Message> = {}): Message {
  messageSeq += 1;
  return {
    id: `msg-${messageSeq}`,
    conversation_id: 'conv-1',
    role: 'assistant',
    content: `message ${messageSeq}`,
    status: 'complete',
    error_code: null,
    client_message_id: null,
    created_at: '2024-01-01T00:00:00Z',
    completed_at: '2024-01-01T00:00:01Z',
    ...overrides,
  };
}

export function makeOnboarding(overrides: Partial<OnboardingState> = {}): OnboardingState {
  return {
    steps: [
      { key: 'name', question: 'What should I call you?' },
      { key: 'role', question: 'What do you do?' },
      { key: 'goals', question: 'What would you like help with?' },
    ],
    current_step: 0,
    progress: 0,
    completed: false,
    conversation_id: 'onboarding-conv',
    ...overrides,
  };
}

/** A stop's acknowledgement: the answer has stopped and `content` is what was stored. */
export function cancelled(messageId: string | null, content = ''): CancelResponse {
  return {
    message_id: messageId,
    status: 'cancelled',
    content,
    last_event_id: messageId === null ? null : `${messageId}:9`,
  };
}

/**
 * What POST /chat/turns answers (202): the question stored and its answer started, with the ids
 * the `start()` test helper uses by default (answer `assistant-1` in `conv-1`).
 */
export function startedTurn(
  body: StartTurnRequest,
  ids: { messageId?: string; conversationId?: string } = {},
): ChatTurn {
  const { messageId = 'assistant-1' } = ids;
  const conversationId =
    ids.conversationId ??
    body.conversation_id ??
    (body.kind === 'onboarding' ? 'onboarding-conv' : 'conv-1');
  return {
    conversation_id: conversationId,
    user_message: makeMessage({
      id: `user-of-${messageId}`,
      conversation_id: conversationId,
      role: 'user',
      content: body.message,
      client_message_id: body.client_message_id,
    }),
    assistant_message: makeMessage({
      id: messageId,
      conversation_id: conversationId,
      content: '',
      status: 'streaming',
      completed_at: null,
    }),
    onboarding: null,
  };
}

/**
 * Answers each POST /chat/turns as `startedTurn` does (with these ids) and records its body,
 * in order.
 */
export function recordTurns(
  ids: { messageId?: string; conversationId?: string } = {},
): StartTurnRequest[] {
  const bodies: StartTurnRequest[] = [];
  server.use(
    http.post(`${API}/chat/turns`, async ({ request }) => {
      const body = (await request.json()) as StartTurnRequest;
      bodies.push(body);
      return HttpResponse.json(startedTurn(body, ids), { status: 202 });
    }),
  );
  return bodies;
}

export const handlers = [
  http.get(`${API}/users/me`, () => HttpResponse.json(makeUser())),
  http.get(`${API}/config`, () => HttpResponse.json(makeConfig())),
  http.post(`${API}/chat/stream-token`, () =>
    HttpResponse.json({ token: 'stream-token-1', expires_in: 300 }),
  ),
  http.post(`${API}/chat/turns`, async ({ request }) =>
    HttpResponse.json(startedTurn((await request.json()) as StartTurnRequest), { status: 202 }),
  ),
  http.post(`${API}/chat/messages/:id/cancel`, ({ params }) =>
    HttpResponse.json(cancelled(String(params.id)), { status: 202 }),
  ),
  http.post(`${API}/chat/cancel`, () => HttpResponse.json(cancelled(null), { status: 202 })),
  http.get(`${API}/chat/conversations`, () =>
    HttpResponse.json<ConversationList>({ items: [], has_more: false }),
  ),
  http.get(`${API}/chat/conversations/:id`, () =>
    HttpResponse.json(
      { error: { code: 'not_found', message: 'Conversation not found.' } },
      { status: 404 },
    ),
  ),
  http.get(`${API}/chat/conversations/:id/messages`, () =>
    HttpResponse.json<MessagePage>({ items: [], has_more: false }),
  ),
  http.get(`${API}/onboarding`, () => HttpResponse.json(makeOnboarding())),
  // No refresh cookie by default: a test that refreshes says what the server answers.
  http.post(`${API}/auth/refresh`, () =>
    HttpResponse.json(
      { error: { code: 'refresh_token_invalid', message: 'No valid refresh token.' } },
      { status: 401 },
    ),
  ),
  http.post(`${API}/auth/logout`, () => new HttpResponse(null, { status: 204 })),
];

export const server = setupServer(...handlers);
