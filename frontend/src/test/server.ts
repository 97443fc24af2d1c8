// MSW server for REST calls, with default handlers for a signed-in, onboarded user.
// Unhandled requests fail the test (onUnhandledRequest: 'error' in setup.ts).

import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';

import type {
  CancelResponse,
  ConversationList,
  Message,
  MessagePage,
  OnboardingState,
  ServerConfig,
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

export const handlers = [
  http.get(`${API}/users/me`, () => HttpResponse.json(makeUser())),
  http.get(`${API}/config`, () => HttpResponse.json(makeConfig())),
  http.post(`${API}/chat/stream-token`, () =>
    HttpResponse.json({ token: 'stream-token-1', expires_in: 300 }),
  ),
  http.post(`${API}/chat/messages/:id/cancel`, ({ params }) =>
    HttpResponse.json(cancelled(String(params.id)), { status: 202 }),
  ),
  http.post(`${API}/chat/cancel`, () => HttpResponse.json(cancelled(null), { status: 202 })),
  http.get(`${API}/chat/conversations`, () => HttpResponse.json<ConversationList>({ items: [] })),
  http.get(`${API}/chat/conversations/:id/messages`, () =>
    HttpResponse.json<MessagePage>({ items: [], has_more: false }),
  ),
  http.get(`${API}/onboarding`, () => HttpResponse.json(makeOnboarding())),
];

export const server = setupServer(...handlers);
