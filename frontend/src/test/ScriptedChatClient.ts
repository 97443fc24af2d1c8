// A ChatClient double for hook tests: records each stream (a send's, an answer's it follows, or
// a Continue's) and lets the test drive its callbacks.

import { vi } from 'vitest';

import type { ChunkEvent, CompleteEvent, StartEvent } from '../api/events';
import type { CancelResponse, ChatTurn, MessagePage, SendMessageResponse } from '../api/types';
import type {
  ChatClient,
  SendOptions,
  StreamCallbacks,
  StreamFailure,
  StreamHandle,
  StreamOptions,
} from '../services/chatService';

export interface ScriptedStream {
  /** The question sent; null for an answer followed or continued. */
  message: string | null;
  /** The answer followed (attachToAnswer); null otherwise. */
  attachedTo: string | null;
  /** The answer continued (continueAnswer); null otherwise. */
  continued: string | null;
  options: StreamOptions;
  callbacks: StreamCallbacks;
  detach: ReturnType<typeof vi.fn>;
  stop: ReturnType<typeof vi.fn>;
  start: (event?: Partial<StartEvent>) => void;
  chunk: (content: string) => void;
  complete: (event?: Partial<CompleteEvent>) => void;
  fail: (failure?: Partial<StreamFailure>) => void;
  /** The stream's terminal `cancelled` (null), or the stop's acknowledgement (its content). */
  cancelled: (content?: string | null) => void;
}

let seq = 0;

export class ScriptedChatClient implements ChatClient {
  streams: ScriptedStream[] = [];
  streamingSupported = true;
  listMessages = vi.fn(
    (
      _conversationId: string,
      _page?: { before?: string | null; limit?: number },
      _signal?: AbortSignal,
    ) => Promise.resolve<MessagePage>({ items: [], has_more: false }),
  );
  sendMessage = vi.fn(
    (_message: string, _options?: SendOptions): Promise<SendMessageResponse> =>
      new Promise<SendMessageResponse>(() => undefined),
  );
  cancelSend = vi.fn((_clientMessageId: string): Promise<CancelResponse> =>
    Promise.resolve({
      message_id: null,
      status: 'cancelled',
      content: '',
      last_event_id: null,
    }),
  );

  /** A version's POST: never answers unless a test says so (its stream is driven instead). */
  regenerateAnswer = vi.fn(
    (_answerId: string, _clientMessageId: string, _signal?: AbortSignal): Promise<ChatTurn> =>
      new Promise<ChatTurn>(() => undefined),
  );
  editMessage = vi.fn(
    (
      _messageId: string,
      _message: string,
      _clientMessageId: string,
      _signal?: AbortSignal,
    ): Promise<ChatTurn> => new Promise<ChatTurn>(() => undefined),
  );
  chooseVersion = vi.fn(
    (_messageId: string): Promise<ChatTurn> => new Promise<ChatTurn>(() => undefined),
  );

  isStreamingSupported(): boolean {
    return this.streamingSupported;
  }

  streamMessage(message: string, options: StreamOptions, callbacks: StreamCallbacks) {
    return this.record(message, {}, options, callbacks);
  }

  attachToAnswer(messageId: string, callbacks: StreamCallbacks) {
    return this.record(null, { attachedTo: messageId }, {}, callbacks);
  }

  continueAnswer(messageId: string, callbacks: StreamCallbacks) {
    return this.record(null, { continued: messageId }, {}, callbacks);
  }

  latest(): ScriptedStream {
    const stream = this.streams.at(-1);
    if (stream === undefined) throw new Error('no stream was started');
    return stream;
  }

  private record(
    message: string | null,
    answer: { attachedTo?: string; continued?: string },
    options: StreamOptions,
    callbacks: StreamCallbacks,
  ): StreamHandle {
    seq += 1;
    const { attachedTo = null, continued = null } = answer;
    const id = attachedTo ?? continued ?? `a-${seq}`;
    const conversationId = options.conversationId ?? 'conv-new';
    let index = 0;
    const stream: ScriptedStream = {
      message,
      attachedTo,
      continued,
      options,
      callbacks,
      detach: vi.fn(),
      stop: vi.fn(),
      start: (event = {}) => {
        callbacks.onStart?.({
          type: 'start',
          message_id: id,
          conversation_id: conversationId,
          user_message_id: `u-${seq}`,
          ...event,
        });
      },
      chunk: (content) => {
        const event: ChunkEvent = { type: 'chunk', content, index: index++ };
        callbacks.onChunk(event);
      },
      complete: (event = {}) => {
        callbacks.onComplete({
          type: 'complete',
          message_id: id,
          conversation_id: conversationId,
          chunks: index,
          finish_reason: 'stop',
          onboarding: null,
          ...event,
        });
      },
      fail: (failure = {}) => {
        callbacks.onError({
          code: 'llm_error',
          message: 'The model failed.',
          retryable: true,
          ...failure,
        });
      },
      cancelled: (content = null) => {
        callbacks.onCancelled(content);
      },
    };
    this.streams.push(stream);
    return { detach: stream.detach as () => void, stop: stream.stop as () => void };
  }
}
