// Chat over the network: streaming answers through EventSource (DESIGN.md §3), the
// non-streaming fallback, server-side cancel, and the conversation/message listings.
//
// One stream's life: trade the access token for a short-lived stream token, open an
// EventSource on /chat/stream (or /chat/onboarding-stream) with the message's client_message_id,
// route each event to its callback, and close the EventSource ourselves on `complete` or
// `error`, since EventSource would otherwise reconnect and the browser would ask again.

import type {
  CancelResponse,
  ConversationList,
  MessagePage,
  OnboardingMessageRequest,
  SendMessageRequest,
  SendMessageResponse,
  StreamTokenResponse,
} from '../api/types';
import { newId } from '../lib/ids';

import { apiRequest } from './http';
import type { CancelStream, StreamCallbacks, StreamOptions } from './streamConnection';
import { ActiveStream, buildStreamUrl, MAX_STREAM_URL_LENGTH } from './streamConnection';

export type {
  CancelStream,
  StreamCallbacks,
  StreamFailure,
  StreamFailureCode,
  StreamOptions,
} from './streamConnection';
export { DEFAULT_MAX_RECONNECTS, MAX_STREAM_URL_LENGTH, buildStreamUrl } from './streamConnection';

export interface SendOptions {
  isOnboarding?: boolean;
  conversationId?: string | null;
  clientMessageId?: string;
  /** Retry of a failed answer with the same clientMessageId (see StreamOptions.regenerate). */
  regenerate?: boolean;
  signal?: AbortSignal;
}

export class ChatService {
  private activeStream: ActiveStream | null = null;

  /** False where the browser has no EventSource; callers then use sendMessage(). */
  isStreamingSupported(): boolean {
    return typeof globalThis.EventSource === 'function';
  }

  /** Whether this message fits in a stream URL (see MAX_STREAM_URL_LENGTH). */
  fitsInStreamUrl(message: string, options: StreamOptions = {}): boolean {
    const url = buildStreamUrl({
      message,
      token: 'x'.repeat(400), // a stream token is a JWT of about this length
      clientMessageId: newId(),
      isOnboarding: options.isOnboarding,
      conversationId: options.conversationId,
      lastEventId: `${newId()}:99999`,
    });
    return url.length <= MAX_STREAM_URL_LENGTH;
  }

  /**
   * Streams the assistant's answer to `message`. Returns a function that cancels this stream.
   * Exactly one of onComplete / onError is called, unless the stream is cancelled first.
   */
  streamMessage(message: string, options: StreamOptions, callbacks: StreamCallbacks): CancelStream {
    this.cancelStream(); // one answer at a time
    const stream = new ActiveStream(this, message, options, callbacks, () => {
      if (this.activeStream === stream) this.activeStream = null;
    });
    this.activeStream = stream;
    void stream.open();
    return () => {
      stream.cancel();
    };
  }

  /** Closes the active stream, forgets it, and asks the server to stop generating. */
  cancelStream(): void {
    const stream = this.activeStream;
    this.activeStream = null;
    stream?.cancel();
  }

  get hasActiveStream(): boolean {
    return this.activeStream !== null && !this.activeStream.isFinished;
  }

  requestStreamToken(): Promise<StreamTokenResponse> {
    return apiRequest<StreamTokenResponse>('/chat/stream-token', { method: 'POST' });
  }

  /** Fire-and-forget server-side stop; the partial answer is kept by the server. */
  cancelGeneration(assistantMessageId: string): void {
    apiRequest<CancelResponse>(`/chat/messages/${encodeURIComponent(assistantMessageId)}/cancel`, {
      method: 'POST',
    }).catch(() => {
      /* the stream is already closed on our side; the server's disconnect grace ends the rest */
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

  listConversations(signal?: AbortSignal): Promise<ConversationList> {
    return apiRequest<ConversationList>('/chat/conversations', { query: { kind: 'chat' }, signal });
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
  'streamMessage' | 'sendMessage' | 'listMessages' | 'isStreamingSupported' | 'fitsInStreamUrl'
>;
