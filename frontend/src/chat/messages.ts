// The chat's message model and the pure functions ChatSession updates it with.

import type { Message, MessageRole, MessageStatus } from '../api/types';
import type { StreamFailure } from '../services/chatService';
import { ApiError } from '../services/http';

export interface ChatError {
  code: string;
  message: string;
  retryable: boolean;
  retryAfterS?: number | null;
  /** When a retry can succeed (epoch ms), from Retry-After; null or absent: now. */
  retryAt?: number | null;
  /**
   * The server did not take the message (refused before it was stored, or never reached): a
   * send that fails so gives its text back to the box instead of leaving a bubble behind.
   */
  refused?: boolean;
}

export interface ChatMessage {
  /** Stable local key (React key); stays the same when the server id becomes known. */
  id: string;
  /** The server's id, once the server has acknowledged the message. */
  serverId: string | null;
  /**
   * A user message's idempotency key (client_message_id). Retry sends it again with
   * `regenerate`, so the server answers the stored question anew instead of storing it twice.
   */
  clientMessageId: string | null;
  role: MessageRole;
  content: string;
  /** 'pending': sent on the non-streaming path, waiting for the whole answer. */
  status: MessageStatus | 'pending';
  isStreaming: boolean;
  /** The answer's connection dropped and is being picked up again (its stream resumes). */
  isReconnecting?: boolean;
  /** The answer waits for the model, this place in line (1 = next); gone once text comes. */
  queuePosition?: number | null;
  error: ChatError | null;
  createdAt: string;
  /**
   * The server ids of every version of this message (regenerated answers, edited questions),
   * oldest first, its own among them; empty when it has no other version or none is known.
   */
  versionIds: string[];
}

export const HISTORY_LIMIT = 50;

/**
 * One wording per outcome: an answer that ended with one of these codes reads the same live
 * (whatever the server's event said) and after a reload (where only the code is stored).
 */
const OUTCOME_CODES = new Set(['llm_error', 'timeout']);

const ERROR_TEXT: Record<string, string> = {
  llm_error: 'The assistant ran into a problem and could not finish this answer.',
  timeout: 'The assistant stopped responding before it finished this answer.',
  internal: 'Something went wrong on the server.',
  rate_limited: "You're sending messages too quickly. Please wait a moment.",
  unauthorized: 'Your session has ended. Please sign in again.',
  cancelled: 'This answer was stopped.',
};

export function errorText(code: string): string {
  return ERROR_TEXT[code] ?? 'This answer could not be completed.';
}

/** A message as loaded from the server. */
export function fromServerMessage(message: Message): ChatMessage {
  const failed = message.status === 'error';
  return {
    id: message.id,
    serverId: message.id,
    clientMessageId: message.client_message_id ?? null,
    role: message.role,
    content: message.content,
    status: message.status,
    isStreaming: false,
    error: failed
      ? {
          code: message.error_code ?? 'internal',
          message: errorText(message.error_code ?? 'internal'),
          retryable: true,
        }
      : null,
    createdAt: message.created_at,
    versionIds: message.version_ids ?? [],
  };
}

export function localMessage(
  id: string,
  role: MessageRole,
  content: string,
  status: ChatMessage['status'],
  isStreaming = false,
  clientMessageId: string | null = null,
): ChatMessage {
  return {
    id,
    serverId: null,
    clientMessageId,
    role,
    content,
    status,
    isStreaming,
    error: null,
    createdAt: new Date().toISOString(),
    versionIds: [],
  };
}

export function updateMessage(
  messages: ChatMessage[],
  id: string,
  update: (message: ChatMessage) => ChatMessage,
): ChatMessage[] {
  const index = messages.findIndex((message) => message.id === id);
  if (index === -1) return messages;
  const current = messages[index] as ChatMessage;
  const next = update(current);
  if (next === current) return messages;
  const copy = messages.slice();
  copy[index] = next;
  return copy;
}

/** Keeps the newest `limit` messages; the rest stay on the server. */
export function keepNewest(
  messages: ChatMessage[],
  limit: number,
): { messages: ChatMessage[]; dropped: boolean } {
  if (messages.length <= limit) return { messages, dropped: false };
  return { messages: messages.slice(messages.length - limit), dropped: true };
}

/** Puts an earlier page before the current messages, skipping any already present. */
export function prependPage(messages: ChatMessage[], page: ChatMessage[]): ChatMessage[] {
  const known = new Set(messages.map((message) => message.serverId).filter(Boolean));
  return [...page.filter((message) => !known.has(message.serverId)), ...messages];
}

/** The id to page back from: the oldest message the server knows. */
export function oldestServerId(messages: ChatMessage[]): string | null {
  return messages.find((message) => message.serverId !== null)?.serverId ?? null;
}

export function isFailed(message: ChatMessage): boolean {
  return message.error !== null;
}

/**
 * Whether the server can continue this answer where it stopped (docs/api.md, "Continue"): one
 * it stored stopped (`cancelled`) or `interrupted`, as a stream that just ended with a retryable
 * `internal` error leaves it.
 */
export function isContinuable(message: ChatMessage): boolean {
  if (message.role !== 'assistant' || message.serverId === null || message.isStreaming) {
    return false;
  }
  if (message.status === 'cancelled' || message.status === 'interrupted') return true;
  return (
    message.status === 'error' && message.error?.code === 'internal' && message.error.retryable
  );
}

/** The message an error shows: the app's own words for an answer's outcome, else the server's. */
function outcomeText(code: string, message: string): string {
  return OUTCOME_CODES.has(code) ? errorText(code) : message;
}

function retryAtFrom(retryAfterS: number | null | undefined, now: number): number | null {
  return retryAfterS === null || retryAfterS === undefined ? null : now + retryAfterS * 1000;
}

/**
 * A failed REST call as the message's error. A whole answer's 502 and 504 come after the
 * question was stored; any other status means the server did not take it.
 */
export function toChatError(error: unknown, now: number = Date.now()): ChatError {
  if (error instanceof ApiError) {
    return {
      code: error.code,
      message: outcomeText(error.code, error.message),
      retryable: error.status !== 401 && error.status !== 403 && error.status !== 404,
      retryAfterS: error.retryAfterS,
      retryAt: retryAtFrom(error.retryAfterS, now),
      refused: error.status !== 502 && error.status !== 504,
    };
  }
  return { code: 'internal', message: 'Something went wrong. Please try again.', retryable: true };
}

/** A failed stream as the message's error. */
export function failureToChatError(failure: StreamFailure, now: number = Date.now()): ChatError {
  return {
    code: failure.code,
    message: outcomeText(failure.code, failure.message),
    retryable: failure.retryable,
    retryAfterS: failure.retryAfterS ?? null,
    retryAt: retryAtFrom(failure.retryAfterS, now),
    refused: failure.refused ?? false,
  };
}

/** Where a message stands among its versions (1-based), or null when it has no other. */
export function versionPosition(message: ChatMessage): { index: number; count: number } | null {
  const { versionIds, serverId } = message;
  if (versionIds.length < 2 || serverId === null) return null;
  const index = versionIds.indexOf(serverId);
  return index === -1 ? null : { index: index + 1, count: versionIds.length };
}

/** The versions a new one joins: the message's own (itself, when it had no other). */
export function versionsSoFar(message: ChatMessage): string[] {
  if (message.versionIds.length > 0) return message.versionIds;
  return message.serverId === null ? [] : [message.serverId];
}
