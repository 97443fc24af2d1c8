// One streamed answer on the wire: EventSource from stream token to terminal event, with
// reconnects (the browser's, resumed by the server from Last-Event-ID, or ours by hand with a
// fresh token and last_event_id), leaving an answer to run on without us, and stopping it.
// ChatService (chatService.ts) drives it, for the answer to a send, for an answer by its id, or
// for the continuation of a stopped answer.

import type {
  ChunkEvent,
  CompleteEvent,
  StartEvent,
  StreamErrorCode,
  StreamEvent,
} from '../api/events';
import { parseStreamEvent } from '../api/events';
import type { CancelResponse, StreamTokenPurpose, StreamTokenResponse } from '../api/types';

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
  /**
   * The answer was stopped, here or anywhere else (another tab's Stop ends every reader's
   * stream). `content` is the text the server stored when it said so; null when the chunks
   * already delivered are that text.
   */
  onCancelled: (content: string | null) => void;
}

/** A stream in progress: exactly one terminal callback follows unless it is detached first. */
export interface StreamHandle {
  /** Closes our connection only: the answer goes on on the server, and no callback follows. */
  detach: () => void;
  /**
   * Asks the server to stop the answer. Chunks written before the stop still arrive; then
   * onCancelled (or onComplete / onError, when the answer ended first).
   */
  stop: () => void;
}

/** What a stream needs from its service: fresh stream tokens and server-side stops. */
export interface StreamBackend {
  requestStreamToken(purpose: StreamTokenPurpose): Promise<StreamTokenResponse>;
  /** Resolves once the answer has stopped and its partial text is stored. */
  cancelAnswer(assistantMessageId: string): Promise<CancelResponse>;
  /** The same, naming the answer by the send's client_message_id (before `start` told its id). */
  cancelSend(clientMessageId: string): Promise<CancelResponse>;
}

/**
 * Which answer a stream reads: the one a send starts, one already started (by its id), or the
 * rest of a stopped one, which a Continue starts (docs/api.md, "Continue").
 */
export type StreamTarget =
  | { kind: 'send'; message: string; clientMessageId: string; options: StreamOptions }
  | { kind: 'answer'; messageId: string }
  | { kind: 'continue'; messageId: string };

export const DEFAULT_MAX_RECONNECTS = 3;
/**
 * The message travels in the stream URL's query string. Servers cap the request line (uvicorn's
 * h11 at 16 KiB, nginx's large_client_header_buffers at 8 KiB), so longer URLs go the
 * non-streaming way instead of failing.
 */
export const MAX_STREAM_URL_LENGTH = 7_500;
/**
 * How long Stop waits for the server to say the answer stopped before calling it stopped on
 * our side anyway (the server answers once the generation has stopped, wherever it runs).
 */
export const STOP_ACK_TIMEOUT_MS = 10_000;
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

/** The stream of an answer already started: attaching is not a send, nothing new is generated. */
export function buildAnswerStreamUrl(params: {
  messageId: string;
  token: string;
  lastEventId?: string | null;
}): string {
  return apiUrl(`/chat/messages/${encodeURIComponent(params.messageId)}/stream`, {
    token: params.token,
    last_event_id: params.lastEventId,
  });
}

/**
 * The continuation of an interrupted or cancelled answer. Opened without a last event id it
 * starts one (a message for the rate limits); with one it resumes that continuation.
 */
export function buildContinueUrl(params: {
  messageId: string;
  token: string;
  lastEventId?: string | null;
}): string {
  return apiUrl(`/chat/messages/${encodeURIComponent(params.messageId)}/continue`, {
    token: params.token,
    last_event_id: params.lastEventId,
  });
}

function targetUrl(target: StreamTarget, token: string, lastEventId: string | null): string {
  if (target.kind === 'answer') {
    return buildAnswerStreamUrl({ messageId: target.messageId, token, lastEventId });
  }
  if (target.kind === 'continue') {
    return buildContinueUrl({ messageId: target.messageId, token, lastEventId });
  }
  return buildStreamUrl({
    message: target.message,
    token,
    clientMessageId: target.clientMessageId,
    isOnboarding: target.options.isOnboarding,
    conversationId: target.options.conversationId,
    lastEventId,
    // A reconnect (it carries a last event id) is never taken as a new retry by the server.
    regenerate: target.options.regenerate,
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
export class ActiveStream implements StreamHandle {
  private finished = false;
  private stopping = false;
  /** The server was asked to stop the answer (stop() may wait for `start` to ask). */
  private stopAsked = false;
  /** An EventSource was opened: the send may have reached the server. */
  private requested = false;
  /** The `start` event came: the answer (or its continuation) runs on the server. */
  private started = false;
  private es: EventSource | null = null;
  private assistantMessageId: string | null;
  private lastEventId: string | null = null;
  private lastChunkIndex = -1;
  private receivedAny = false;
  private failedReconnects = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly maxReconnects: number;

  constructor(
    private readonly service: StreamBackend,
    private readonly target: StreamTarget,
    private readonly callbacks: StreamCallbacks,
    maxReconnects: number = DEFAULT_MAX_RECONNECTS,
  ) {
    this.assistantMessageId = target.kind === 'send' ? null : target.messageId;
    this.maxReconnects = maxReconnects;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  async open(): Promise<void> {
    let token: string;
    try {
      token = (await this.service.requestStreamToken(this.tokenPurpose())).token;
    } catch (error) {
      if (!this.finished) this.fail(toFailure(error));
      return;
    }
    if (this.finished) return; // detached or stopped while the token was on its way
    const EventSourceImpl = globalThis.EventSource;
    const es = new EventSourceImpl(targetUrl(this.target, token, this.lastEventId));
    this.es = es;
    this.requested = true;
    es.onmessage = (event: MessageEvent<string>) => {
      this.handleMessage(es, event);
    };
    es.onerror = () => {
      this.handleError(es);
    };
  }

  /**
   * Only a request that may start an answer (a send, a Continue) needs a token the rate limits
   * can refuse. Following an answer, or picking a stream up again after its events came (the
   * answer is on the server and a last event id makes the request a reader's), starts nothing:
   * a watch token, which the limits never refuse, so a user at the limit still sees the answer
   * they spent it on.
   */
  private tokenPurpose(): StreamTokenPurpose {
    return this.target.kind === 'answer' || this.lastEventId !== null ? 'watch' : 'send';
  }

  readonly detach = (): void => {
    this.finish();
  };

  readonly stop = (): void => {
    if (this.finished || this.stopping) return;
    this.stopping = true;
    const { target } = this;
    if (target.kind !== 'answer' && !this.requested) {
      // Still fetching the token: no request left this page, so nothing was started (a send's
      // answer is then empty; a Continue leaves the answer as it was).
      this.finish();
      this.callbacks.onCancelled(target.kind === 'send' ? '' : null);
      return;
    }
    // Keep reading meanwhile: what was written before the stop still arrives.
    this.stopTimer = setTimeout(() => {
      this.settleStop(null);
    }, STOP_ACK_TIMEOUT_MS);
    // A Continue on its way is not stopped by the answer's id: the server would find the answer
    // still stopped, say so, and then start the continuation. Its `start` asks (see route).
    if (target.kind === 'continue' && !this.started) return;
    this.askToStop();
  };

  /** Asks the server to stop the answer; its acknowledgement ends the stream. */
  private askToStop(): void {
    this.stopAsked = true;
    let request: Promise<CancelResponse>;
    if (this.assistantMessageId !== null) {
      request = this.service.cancelAnswer(this.assistantMessageId);
    } else if (this.target.kind === 'send') {
      // The send may be on the server without our knowing its answer's id yet: name it by
      // the send. A send still on its way is then stored stopped, without an answer.
      request = this.service.cancelSend(this.target.clientMessageId);
    } else {
      return; // only a send's answer can be without an id
    }
    request.then(
      (ack) => {
        // Another status: the answer ended before the stop; its stream says how.
        if (ack.status === 'cancelled') this.settleStop(ack.content);
      },
      () => {
        this.settleStop(null);
      },
    );
  }

  private settleStop(content: string | null): void {
    if (this.finished) return;
    this.finish();
    this.callbacks.onCancelled(content);
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
        this.started = true;
        this.assistantMessageId = event.message_id;
        this.callbacks.onStart?.(event);
        // A stop pressed while a Continue was on its way: the continuation runs now, stop it.
        if (this.stopping && !this.stopAsked && !this.finished) this.askToStop();
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
        // Stopped (here or in another tab): every chunk before it was delivered.
        if (event.code === 'cancelled') {
          this.callbacks.onCancelled(null);
          return;
        }
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
    this.closeEventSource();
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.open();
    }, 500 * this.failedReconnects);
  }

  private fail(failure: StreamFailure): void {
    if (this.stopping) {
      // The stop's acknowledgement (or its time-out) ends this stream, not the lost connection.
      this.closeEventSource();
      // A Continue whose `start` never came may still have started: ask now, by the answer.
      if (!this.stopAsked) this.askToStop();
      return;
    }
    this.finish();
    this.callbacks.onError(failure);
  }

  private closeEventSource(): void {
    const es = this.es;
    this.es = null;
    if (es !== null) {
      es.onmessage = null;
      es.onerror = null;
      es.close();
    }
  }

  /** Closes the EventSource for good; after this no callback is called. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.stopTimer !== null) clearTimeout(this.stopTimer);
    this.timer = null;
    this.stopTimer = null;
    this.closeEventSource();
  }
}
