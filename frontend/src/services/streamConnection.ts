// One streamed answer on the wire: EventSource from stream token to terminal event, with
// reconnects (the browser's, resumed by the server from Last-Event-ID, or ours by hand with a
// fresh token and last_event_id), and cancellation. ChatService (chatService.ts) drives it.

import type {
  ChunkEvent,
  CompleteEvent,
  StartEvent,
  StreamErrorCode,
  StreamEvent,
} from '../api/events';
import { parseStreamEvent } from '../api/events';
import type { StreamTokenResponse } from '../api/types';
import { newId } from '../lib/ids';

import { ApiError, apiUrl } from './http';

/** Codes the client adds to the server's: a refused start, a connection lost for good, ... */
export type StreamFailureCode =
  | StreamErrorCode
  | 'stream_start_failed'
  | 'connection_lost'
  | 'protocol_error'
  | 'network_error'
  | (string & {});

export interface StreamFailure {
  code: StreamFailureCode;
  message: string;
  retryable: boolean;
  /** Seconds to wait before retrying, when the server said (Retry-After on a 429). */
  retryAfterS?: number | null;
}

export interface StreamOptions {
  isOnboarding?: boolean;
  conversationId?: string | null;
  /** Idempotency key; a fresh one is made when absent. */
  clientMessageId?: string;
  /**
   * Retry of a send whose answer failed (same clientMessageId): the server replaces the failed
   * answer with a new one to the same stored question (docs/api.md, "Idempotent sends").
   */
  regenerate?: boolean;
  /** How many reconnects in a row may fail before the stream is reported lost. */
  maxReconnects?: number;
}

export interface StreamCallbacks {
  onStart?: (event: StartEvent) => void;
  onChunk: (event: ChunkEvent) => void;
  onComplete: (event: CompleteEvent) => void;
  onError: (failure: StreamFailure) => void;
}

/** Stops this stream: closes it and asks the server to stop generating. No callback follows. */
export type CancelStream = () => void;

/** What a stream needs from its service: fresh stream tokens and server-side cancel. */
export interface StreamBackend {
  requestStreamToken(): Promise<StreamTokenResponse>;
  cancelGeneration(assistantMessageId: string): void;
}

export const DEFAULT_MAX_RECONNECTS = 3;
/**
 * The message travels in the stream URL's query string. Servers cap the request line (uvicorn's
 * h11 at 16 KiB, nginx's large_client_header_buffers at 8 KiB), so longer URLs go the
 * non-streaming way instead of failing.
 */
export const MAX_STREAM_URL_LENGTH = 7_500;
/** After a cancel that came before the `start` event, how long to wait for the id to cancel. */
const CANCEL_WAIT_FOR_START_MS = 10_000;
/** EventSource.CLOSED, spelled out so a test double need not define the static. */
const READY_STATE_CLOSED = 2;

const MESSAGES = {
  startFailed: "The assistant couldn't start answering. Please try again.",
  connectionLost: 'The connection was lost before the answer finished. Please try again.',
  protocol: 'The answer stream sent something unreadable. Please try again.',
} as const;

function streamPath(isOnboarding: boolean): string {
  return isOnboarding ? '/chat/onboarding-stream' : '/chat/stream';
}

export function buildStreamUrl(params: {
  message: string;
  token: string;
  clientMessageId: string;
  isOnboarding?: boolean;
  conversationId?: string | null;
  lastEventId?: string | null;
  regenerate?: boolean;
}): string {
  return apiUrl(streamPath(params.isOnboarding ?? false), {
    message: params.message,
    token: params.token,
    client_message_id: params.clientMessageId,
    conversation_id: params.isOnboarding ? null : params.conversationId,
    last_event_id: params.lastEventId,
    regenerate: params.regenerate ? 'true' : null,
  });
}

function toFailure(error: unknown): StreamFailure {
  if (error instanceof ApiError) {
    return {
      code: error.code,
      message: error.message,
      retryable: error.status === 0 || error.status === 429 || error.status >= 500,
      retryAfterS: error.retryAfterS,
    };
  }
  return { code: 'network_error', message: MESSAGES.startFailed, retryable: true };
}

/** One stream from token to terminal event. Callbacks stop the moment it is finished. */
export class ActiveStream {
  private finished = false;
  private es: EventSource | null = null;
  private assistantMessageId: string | null = null;
  private lastEventId: string | null = null;
  private lastChunkIndex = -1;
  private receivedAny = false;
  private failedReconnects = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly clientMessageId: string;
  private readonly maxReconnects: number;

  constructor(
    private readonly service: StreamBackend,
    private readonly message: string,
    private readonly options: StreamOptions,
    private readonly callbacks: StreamCallbacks,
    private readonly onFinished: () => void,
  ) {
    this.clientMessageId = options.clientMessageId ?? newId();
    this.maxReconnects = options.maxReconnects ?? DEFAULT_MAX_RECONNECTS;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  async open(): Promise<void> {
    let token: string;
    try {
      token = (await this.service.requestStreamToken()).token;
    } catch (error) {
      if (!this.finished) this.fail(toFailure(error));
      return;
    }
    if (this.finished) return; // cancelled while the token was on its way
    const EventSourceImpl = globalThis.EventSource;
    const es = new EventSourceImpl(
      buildStreamUrl({
        message: this.message,
        token,
        clientMessageId: this.clientMessageId,
        isOnboarding: this.options.isOnboarding,
        conversationId: this.options.conversationId,
        lastEventId: this.lastEventId,
        // A reconnect (it carries a last event id) is never taken as a new retry by the server.
        regenerate: this.options.regenerate,
      }),
    );
    this.es = es;
    es.onmessage = (event: MessageEvent<string>) => {
      this.handleMessage(es, event);
    };
    es.onerror = () => {
      this.handleError(es);
    };
  }

  cancel(): void {
    if (this.finished) return;
    // Before `start` we do not know the message id yet: keep that connection open (finish()
    // would close it) just long enough to learn it.
    const unstarted = this.assistantMessageId === null ? this.es : null;
    if (unstarted !== null) this.es = null;
    this.finish();
    if (this.assistantMessageId !== null) {
      this.service.cancelGeneration(this.assistantMessageId);
    } else if (unstarted !== null) {
      this.cancelOnceStarted(unstarted);
    }
    // Still fetching the token: open() sees `finished` and never opens, so nothing started.
  }

  private handleMessage(es: EventSource, message: MessageEvent<string>): void {
    if (this.finished || es !== this.es) return;
    this.receivedAny = true;
    this.failedReconnects = 0;
    if (message.lastEventId) this.lastEventId = message.lastEventId;
    const event = parseStreamEvent(message.data);
    if (event === null) {
      this.fail({ code: 'protocol_error', message: MESSAGES.protocol, retryable: true });
      return;
    }
    this.route(event);
  }

  private route(event: StreamEvent): void {
    switch (event.type) {
      case 'start':
        this.assistantMessageId = event.message_id;
        this.callbacks.onStart?.(event);
        return;
      case 'chunk':
        // A resumed stream continues after Last-Event-ID; never apply a chunk twice.
        if (event.index <= this.lastChunkIndex) return;
        this.lastChunkIndex = event.index;
        this.callbacks.onChunk(event);
        return;
      case 'complete':
        this.finish();
        this.callbacks.onComplete(event);
        return;
      case 'error':
        this.finish();
        this.callbacks.onError({
          code: event.code,
          message: event.message,
          retryable: event.retryable,
        });
        return;
    }
  }

  private handleError(es: EventSource): void {
    if (this.finished || es !== this.es) return;
    if (es.readyState !== READY_STATE_CLOSED) {
      // A transient drop: the browser reconnects with Last-Event-ID and the server resumes.
      this.failedReconnects += 1;
      if (this.failedReconnects > this.maxReconnects) {
        this.fail({ code: 'connection_lost', message: MESSAGES.connectionLost, retryable: true });
      }
      return;
    }
    // CLOSED: the server refused the connection with a plain HTTP status.
    if (!this.receivedAny) {
      this.fail({ code: 'stream_start_failed', message: MESSAGES.startFailed, retryable: true });
      return;
    }
    // Refused on reconnect after events came (most often the stream token expired): reopen by
    // hand with a fresh token, continuing after the last event we saw.
    this.failedReconnects += 1;
    if (this.failedReconnects > this.maxReconnects) {
      this.fail({ code: 'connection_lost', message: MESSAGES.connectionLost, retryable: true });
      return;
    }
    es.onmessage = null;
    es.onerror = null;
    es.close();
    this.es = null;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.open();
    }, 500 * this.failedReconnects);
  }

  /** Waits for the `start` event on a cancelled stream, only to learn which message to cancel. */
  private cancelOnceStarted(es: EventSource): void {
    const close = (): void => {
      clearTimeout(timer);
      es.onmessage = null;
      es.onerror = null;
      es.close();
    };
    const timer = setTimeout(close, CANCEL_WAIT_FOR_START_MS);
    es.onmessage = (message: MessageEvent<string>) => {
      const event = parseStreamEvent(message.data);
      if (event?.type === 'start') this.service.cancelGeneration(event.message_id);
      close();
    };
    es.onerror = close;
  }

  private fail(failure: StreamFailure): void {
    this.finish();
    this.callbacks.onError(failure);
  }

  /** Closes the EventSource for good; after this no callback is called. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const es = this.es;
    this.es = null;
    if (es !== null) {
      es.onmessage = null;
      es.onerror = null;
      es.close();
    }
    this.onFinished();
  }
}
