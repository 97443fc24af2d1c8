// Chat over the network: streaming answers through EventSource (DESIGN.md §3), the
// non-streaming fallback, stopping an answer on the server, and the conversations: listed,
// renamed, deleted, searched, and their messages.
//
// One stream's life: trade the access token for a short-lived stream token; for a send, post
// the message in a body (POST /chat/turns, with its client_message_id), which stores it and
// starts its answer; open an EventSource on /chat/messages/{id}/stream to read that answer (or
// one already started, to follow it), or on /chat/messages/{id}/continue to continue a stopped
// one; route each event to its callback, and close the EventSource ourselves on `complete` or
// `error`, since EventSource would otherwise reconnect and the browser would ask again. Closing
// a stream never stops its answer: only cancelAnswer / cancelSend do.

import type {
  CancelResponse,
  CancelSendRequest,
  ChatTurn,
  Conversation,
  ConversationList,
  ConversationUpdate,
  EditRequest,
  MessagePage,
  OnboardingMessageRequest,
  RegenerateRequest,
  SearchResults,
  SendMessageRequest,
  SendMessageResponse,
  StartTurnRequest,
  StreamTokenPurpose,
  StreamTokenResponse,
} from '../api/types';
import { newId } from '../lib/ids';

import { apiRequest } from './http';
import type { StreamCallbacks, StreamHandle, StreamOptions } from './streamConnection';
import { ActiveStream } from './streamConnection';

/** Conversations per page of the sidebar's list (the server's default; it takes up to 200). */
export const CONVERSATION_PAGE = 50;

export type {
  StreamCallbacks,
  StreamFailure,
  StreamFailureCode,
  StreamHandle,
  StreamOptions,
} from './streamConnection';
export {
  DEFAULT_MAX_RECONNECTS,
  STOP_ACK_TIMEOUT_MS,
  buildAnswerStreamUrl,
  buildContinueUrl,
  buildTurnRequest,
} from './streamConnection';

export interface SendOptions {
  isOnboarding?: boolean;
  conversationId?: string | null;
  clientMessageId?: string;
  /** Retry of a failed answer with the same clientMessageId (see StreamOptions.regenerate). */
  regenerate?: boolean;
  signal?: AbortSignal;
}

export class ChatService {
  /** False where the browser has no EventSource; callers then use sendMessage(). */
  isStreamingSupported(): boolean {
    return typeof globalThis.EventSource === 'function';
  }

  /**
   * Sends `message` (POST /chat/turns) and streams the assistant's answer to it. onStart comes
   * from the POST's reply; then exactly one of onComplete / onError / onCancelled is called,
   * unless the stream is detached first. A refused send (413, 409, 422, 429, 403) is an onError
   * with the server's own message.
   */
  streamMessage(message: string, options: StreamOptions, callbacks: StreamCallbacks): StreamHandle {
    const target = {
      kind: 'send',
      message,
      clientMessageId: options.clientMessageId ?? newId(),
      options,
    } as const;
    return this.openStream(new ActiveStream(this, target, callbacks, options.maxReconnects));
  }

  /**
   * Follows answer `messageId`, already started (by another tab, or before a reload): its events
   * from the first, live while it is written. Attaching sends nothing and starts nothing.
   */
  attachToAnswer(
    messageId: string,
    callbacks: StreamCallbacks,
    options: Pick<StreamOptions, 'maxReconnects'> = {},
  ): StreamHandle {
    const target = { kind: 'answer', messageId } as const;
    return this.openStream(new ActiveStream(this, target, callbacks, options.maxReconnects));
  }

  /**
   * Continues answer `messageId`, stored `interrupted` or `cancelled`, where it stopped: its
   * `start` carries the text so far (`prefix`), its chunks the rest, its `complete` the whole
   * (`content`). A message for the rate limits, like a send; an answer no longer continuable
   * (say, another tab continued it first) is read as attachToAnswer reads it.
   */
  continueAnswer(
    messageId: string,
    callbacks: StreamCallbacks,
    options: Pick<StreamOptions, 'maxReconnects'> = {},
  ): StreamHandle {
    const target = { kind: 'continue', messageId } as const;
    return this.openStream(new ActiveStream(this, target, callbacks, options.maxReconnects));
  }

  private openStream(stream: ActiveStream): StreamHandle {
    void stream.open();
    return stream;
  }

  /**
   * A stream token for an EventSource URL. `send` (the plain request) is refused with 429 when
   * the next message would be; `watch`, to follow an answer, never is.
   */
  requestStreamToken(purpose: StreamTokenPurpose = 'send'): Promise<StreamTokenResponse> {
    return apiRequest<StreamTokenResponse>('/chat/stream-token', {
      method: 'POST',
      query: { purpose: purpose === 'watch' ? purpose : null },
    });
  }

  /**
   * Stores a message and starts its answer, to be read with GET /chat/messages/{id}/stream
   * (streamMessage does both). The message travels in the body, so any length up to
   * MAX_MESSAGE_CHARS fits; the same client_message_id again returns the same turn.
   */
  startTurn(request: StartTurnRequest, signal?: AbortSignal): Promise<ChatTurn> {
    return apiRequest<ChatTurn>('/chat/turns', { method: 'POST', json: request, signal });
  }

  /**
   * Starts a new answer to the question answer `answerId` replies to (the latest exchange),
   * keeping the earlier answers as versions; read it as a send's answer is.
   */
  regenerateAnswer(
    answerId: string,
    clientMessageId: string,
    signal?: AbortSignal,
  ): Promise<ChatTurn> {
    return apiRequest<ChatTurn>(`/chat/messages/${encodeURIComponent(answerId)}/regenerate`, {
      method: 'POST',
      json: { client_message_id: clientMessageId } satisfies RegenerateRequest,
      signal,
    });
  }

  /**
   * Stores `message` as a new version of user message `messageId` (the latest question) and
   * starts its answer; the earlier version and its answers are kept.
   */
  editMessage(
    messageId: string,
    message: string,
    clientMessageId: string,
    signal?: AbortSignal,
  ): Promise<ChatTurn> {
    return apiRequest<ChatTurn>(`/chat/messages/${encodeURIComponent(messageId)}/edit`, {
      method: 'POST',
      json: { message, client_message_id: clientMessageId } satisfies EditRequest,
      signal,
    });
  }

  /** Shows version `messageId` of its message; resolves with its exchange as it now reads. */
  chooseVersion(messageId: string): Promise<ChatTurn> {
    return apiRequest<ChatTurn>(`/chat/messages/${encodeURIComponent(messageId)}/choose`, {
      method: 'POST',
    });
  }

  /** Stops answer `assistantMessageId`; resolves once it has stopped and its text is stored. */
  cancelAnswer(assistantMessageId: string): Promise<CancelResponse> {
    return apiRequest<CancelResponse>(
      `/chat/messages/${encodeURIComponent(assistantMessageId)}/cancel`,
      { method: 'POST' },
    );
  }

  /**
   * Stops the answer to the send with `clientMessageId`. A send the server has not seen yet is
   * stored stopped when it arrives (message_id null in the acknowledgement).
   */
  cancelSend(clientMessageId: string): Promise<CancelResponse> {
    return apiRequest<CancelResponse>('/chat/cancel', {
      method: 'POST',
      json: { client_message_id: clientMessageId } satisfies CancelSendRequest,
    });
  }

  /** The non-streaming path: one request, the whole answer at once. */
  sendMessage(message: string, options: SendOptions = {}): Promise<SendMessageResponse> {
    const clientMessageId = options.clientMessageId ?? newId();
    const regenerate = options.regenerate ? { regenerate: true } : {};
    if (options.isOnboarding) {
      return apiRequest<SendMessageResponse>('/chat/onboarding-message', {
        method: 'POST',
        json: {
          message,
          client_message_id: clientMessageId,
          ...regenerate,
        } satisfies OnboardingMessageRequest,
        signal: options.signal,
      });
    }
    return apiRequest<SendMessageResponse>('/chat/message', {
      method: 'POST',
      json: {
        message,
        conversation_id: options.conversationId ?? null,
        client_message_id: clientMessageId,
        ...regenerate,
      } satisfies SendMessageRequest,
      signal: options.signal,
    });
  }

  /** A page of the user's conversations, the onboarding one too, newest activity first: the
   * first, or those after `before` (the last conversation of the page before). */
  listConversations(
    page: { before?: string | null; limit?: number } = {},
    signal?: AbortSignal,
  ): Promise<ConversationList> {
    return apiRequest<ConversationList>('/chat/conversations', {
      query: { before: page.before, limit: page.limit ?? CONVERSATION_PAGE },
      signal,
    });
  }

  /** One of the user's conversations, by its id. */
  getConversation(conversationId: string, signal?: AbortSignal): Promise<Conversation> {
    return apiRequest<Conversation>(`/chat/conversations/${encodeURIComponent(conversationId)}`, {
      signal,
    });
  }

  renameConversation(conversationId: string, title: string): Promise<Conversation> {
    return apiRequest<Conversation>(`/chat/conversations/${encodeURIComponent(conversationId)}`, {
      method: 'PATCH',
      json: { title } satisfies ConversationUpdate,
    });
  }

  /** Deletes the conversation and its messages; the server stops an answer in flight first. */
  deleteConversation(conversationId: string): Promise<void> {
    return apiRequest<undefined>(`/chat/conversations/${encodeURIComponent(conversationId)}`, {
      method: 'DELETE',
    });
  }

  /** The user's messages holding every word of `query`, best match first. */
  searchMessages(query: string, signal?: AbortSignal): Promise<SearchResults> {
    return apiRequest<SearchResults>('/chat/search', { query: { q: query, limit: 20 }, signal });
  }

  listMessages(
    conversationId: string,
    page: { before?: string | null; limit?: number } = {},
    signal?: AbortSignal,
  ): Promise<MessagePage> {
    return apiRequest<MessagePage>(
      `/chat/conversations/${encodeURIComponent(conversationId)}/messages`,
      {
        query: { before: page.before, limit: page.limit ?? 50 },
        signal,
      },
    );
  }
}

/** The app's one ChatService; hooks take another through their options in tests. */
export const chatService = new ChatService();

/** What the hooks need from a chat service: lets tests pass a scripted double. */
export type ChatClient = Pick<
  ChatService,
  | 'streamMessage'
  | 'attachToAnswer'
  | 'continueAnswer'
  | 'sendMessage'
  | 'cancelSend'
  | 'listMessages'
  | 'isStreamingSupported'
  | 'regenerateAnswer'
  | 'editMessage'
  | 'chooseVersion'
>;
