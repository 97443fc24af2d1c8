// The REST API from the test's side (Node's fetch): accounts, onboarding without a browser,
// and reading back what the server stored, to compare with what the page shows.

import { randomUUID } from 'node:crypto';

import type {
  ChatTurn,
  ConversationList,
  Message,
  MessagePage,
  OnboardingAnswers,
  OnboardingState,
  SendMessageResponse,
  StartTurnRequest,
  TokenResponse,
  User,
} from '../../src/api/types';

import { recordToken } from './tokens';

export const PASSWORD = 'correct horse battery staple';

export interface Account {
  email: string;
  password: string;
  displayName: string;
}

export class ApiClient {
  private token: string | null = null;

  constructor(readonly baseUrl: string) {}

  private async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers);
    if (this.token !== null) headers.set('Authorization', `Bearer ${this.token}`);
    if (typeof init.body === 'string') headers.set('Content-Type', 'application/json');
    const response = await fetch(`${this.baseUrl}/api/v1${path}`, { ...init, headers });
    if (!response.ok) {
      throw new Error(
        `${init.method ?? 'GET'} ${path}: ${response.status} ${await response.text()}`,
      );
    }
    return (await response.json()) as T;
  }

  async register(account: Account): Promise<User> {
    return this.request<User>('/auth/register', {
      method: 'POST',
      body: JSON.stringify({
        email: account.email,
        password: account.password,
        display_name: account.displayName,
      }),
    });
  }

  async login(account: Pick<Account, 'email' | 'password'>): Promise<string> {
    const response = await fetch(`${this.baseUrl}/api/v1/auth/token`, {
      method: 'POST',
      body: new URLSearchParams({ username: account.email, password: account.password }),
    });
    if (!response.ok) throw new Error(`login: ${response.status} ${await response.text()}`);
    const body = (await response.json()) as TokenResponse;
    this.token = body.access_token;
    recordToken(body.access_token);
    return body.access_token;
  }

  onboarding(): Promise<OnboardingState> {
    return this.request<OnboardingState>('/onboarding');
  }

  /**
   * Answers every onboarding question still asked through the non-streaming endpoint:
   * question i gets `answers[i]` (registration's display name answers the first, so the
   * onboarding may start at the second).
   */
  async completeOnboarding(answers: string[]): Promise<void> {
    let state = await this.onboarding();
    let turn = 0;
    while (!state.completed) {
      await this.request<SendMessageResponse>('/chat/onboarding-message', {
        method: 'POST',
        body: JSON.stringify({
          message: answers[state.current_step % answers.length] ?? 'Yes.',
          client_message_id: randomUUID(),
        }),
      });
      turn += 1;
      state = await this.onboarding();
      if (turn > 20) throw new Error('onboarding did not complete');
    }
  }

  onboardingAnswers(): Promise<OnboardingAnswers> {
    return this.request<OnboardingAnswers>('/onboarding/answers');
  }

  me(): Promise<User> {
    return this.request<User>('/users/me');
  }

  /** POST /chat/turns, as the page sends a message: the turn as stored, its answer started. */
  startTurn(body: StartTurnRequest): Promise<ChatTurn> {
    return this.request<ChatTurn>('/chat/turns', { method: 'POST', body: JSON.stringify(body) });
  }

  conversations(kind: 'chat' | 'onboarding' = 'chat'): Promise<ConversationList> {
    return this.request<ConversationList>(`/chat/conversations?kind=${kind}`);
  }

  async messages(conversationId: string): Promise<Message[]> {
    const page = await this.request<MessagePage>(
      `/chat/conversations/${conversationId}/messages?limit=200`,
    );
    return page.items;
  }

  /** The messages of the user's newest chat conversation. */
  async latestChatMessages(): Promise<Message[]> {
    const { items } = await this.conversations('chat');
    const newest = items[0];
    if (newest === undefined) throw new Error('the user has no chat conversation');
    return this.messages(newest.id);
  }
}

export function newAccount(label: string): Account {
  const id = randomUUID().slice(0, 8);
  return {
    email: `${label}-${id}@example.com`,
    password: PASSWORD,
    displayName: 'Ada Lovelace',
  };
}
