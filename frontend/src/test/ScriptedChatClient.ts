// A ChatClient double for hook tests: records each stream and lets the test drive its callbacks.

import { vi } from 'vitest';

import type { ChunkEvent, CompleteEvent, StartEvent } from '../api/events';
import type { MessagePage, SendMessageResponse } from '../api/types';
import type {
  ChatClient,
  SendOptions,
  StreamCallbacks,
  StreamFailure,
  StreamOptions,
} from '../services/chatService';

export interface ScriptedStream {
  message: string;
  options: StreamOptions;
  callbacks: StreamCallbacks;
  cancel: ReturnType<typeof vi.fn>;
  start: (event?: Partial<StartEvent>) => void;
  chunk: (content: string) => void;
  complete: (event?: Partial<CompleteEvent>) => void;
  fail: (failure?: Partial<StreamFailure>) => void;
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

  isStreamingSupported(): boolean {
    return this.streamingSupported;
  }

  fitsInStreamUrl(): boolean {
    return true;
  }

  streamMessage(message: string, options: StreamOptions, callbacks: StreamCallbacks) {
    seq += 1;
    const id = `a-${seq}`;
    const conversationId = options.conversationId ?? 'conv-new';
    let index = 0;
    const stream: ScriptedStream = {
      message,
      options,
      callbacks,
      cancel: vi.fn(),
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
    };
    this.streams.push(stream);
    return stream.cancel as () => void;
  }

  latest(): ScriptedStream {
    const stream = this.streams.at(-1);
    if (stream === undefined) throw new Error('no stream was started');
    return stream;
  }
}
