// The benchmark's users and conversations, made through the real API of a server whose scripted
// model answers at full speed: every message is stored by the code that stores a user's.

import { randomUUID } from 'node:crypto';

import type { ChatTurn, Message, MessagePage } from '../../frontend/src/api/types';
import { ApiClient, newAccount } from '../../frontend/e2e/support/api';
import type { Account } from '../../frontend/e2e/support/api';

export interface Reader {
  account: Account;
  token: string;
}

/** A registered user who has finished onboarding, so the chat opens directly. */
export async function onboardedUser(baseUrl: string, label: string): Promise<Reader> {
  const account = newAccount(label);
  const api = new ApiClient(baseUrl);
  await api.register(account);
  const token = await api.login(account);
  await api.completeOnboarding([
    'Ada',
    'I build software.',
    'Understanding how streaming works.',
    'Short and direct.',
  ]);
  return { account, token };
}

/** The newest `limit` messages of a conversation as stored, oldest first, from any server. */
export async function storedMessages(
  baseUrl: string,
  reader: Reader,
  conversationId: string,
  limit = 50,
): Promise<Message[]> {
  const response = await fetch(
    `${baseUrl}/api/v1/chat/conversations/${conversationId}/messages?limit=${limit}`,
    { headers: { Authorization: `Bearer ${reader.token}` } },
  );
  if (!response.ok) throw new Error(`GET messages: ${response.status} ${await response.text()}`);
  return ((await response.json()) as MessagePage).items;
}

/** One whole turn through `POST /chat/message` (the answer is stored when it returns). */
async function sendTurn(
  baseUrl: string,
  token: string,
  message: string,
  conversationId: string | null,
): Promise<ChatTurn> {
  const response = await fetch(`${baseUrl}/api/v1/chat/message`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({
      message,
      client_message_id: randomUUID(),
      ...(conversationId === null ? {} : { conversation_id: conversationId }),
    }),
  });
  if (!response.ok)
    throw new Error(`POST /chat/message: ${response.status} ${await response.text()}`);
  return (await response.json()) as ChatTurn;
}

/**
 * A conversation of `messages` messages (half questions, half stored answers), one turn after
 * the other as a person would have it. Returns its id.
 */
export async function conversation(
  reader: Reader,
  baseUrl: string,
  title: string,
  messages: number,
): Promise<string> {
  let id: string | null = null;
  for (let turn = 1; turn <= messages / 2; turn += 1) {
    const text = turn === 1 ? title : `${title}, question ${turn}: what comes next?`;
    const stored = await sendTurn(baseUrl, reader.token, text, id);
    id = stored.conversation_id;
  }
  if (id === null) throw new Error('a conversation needs at least one turn');
  const stored = await storedMessages(baseUrl, reader, id, 200);
  if (stored.length !== Math.min(messages, 200)) {
    throw new Error(`${title}: ${stored.length} messages stored, ${messages} sent`);
  }
  return id;
}
