// One streamed answer on the wire: EventSource from stream token to terminal event, with
// reconnects (the browser's, resumed by the server from Last-Event-ID, or ours by hand with a
// fresh token and last_event_id), leaving an answer to run on without us, and stopping it.
// ChatService (chatService.ts) drives it, for the answer to a send, for an answer by its id, or
// for the continuation of a stopped answer. A send posts its message first (POST /chat/turns:
// a body holds the whole MAX_MESSAGE_CHARS in any script, a URL does not), then reads the
// answer that started by its id, as any other answer is read.

import type {
  ChunkEvent,
  CompleteEvent,
  StartEvent,
  StreamErrorCode,
  StreamEvent,
} from '../api/events';
import { parseStreamEvent } from '../api/events';
import type {
  CancelResponse,
  ChatTurn,
  StartTurnRequest,
  StreamTokenPurpose,
  StreamTokenResponse,
} from '../api/types';

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
  /**
   * The send never reached the answer: its token or its POST was refused, or the server was out
   * of reach. Nothing was stored (a 4xx or 503 refusal), or nothing is known to be.
   */
  refused?: boolean;
  /** The answer's text as the server kept it, when it differs from what was streamed. */
  kept?: string | null;
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
  /**
   * Starts the turn in place of POST /chat/turns, with the same clientMessageId: a regenerate
   * or an edit & resend (docs/api.md, "Versions"). Its answer is then read as a send's is.
   */
  startTurn?: (signal: AbortSignal) => Promise<ChatTurn>;
  /**
   * How many of our own reopens in a row the server may refuse with an HTTP status (say, a
   * 404) before the stream is reported lost. An unreachable server is tried again for
   * RECONNECT_WINDOW_MS instead, however many times that takes.
   */
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
  /**
   * The connection dropped (true: we are reconnecting, the answer goes on on the server) or is
   * back (false: the stream resumes after the last event we saw).
   */
  onConnectionChange?: (reconnecting: boolean) => void;
  /** The answer waits for the model: its place in line (1 = next), whenever it changes. */
  onQueued?: (position: number) => void;
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

/** What a stream needs from its service: the send's POST, stream tokens, server-side stops. */
export interface StreamBackend {
  requestStreamToken(purpose: StreamTokenPurpose): Promise<StreamTokenResponse>;
  /**
   * Stores the message and starts its answer (POST /chat/turns). A repeat of the same
   * client_message_id returns the same turn: its answer, in flight or ended, is never doubled.
   */
  startTurn(request: StartTurnRequest, signal?: AbortSignal): Promise<ChatTurn>;
  /** Resolves once the answer has stopped and its partial text is stored. */
  cancelAnswer(assistantMessageId: string): Promise<CancelResponse>;
  /** The same, naming the answer by the send's client_message_id (before its POST told the id). */
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
 * How long a dropped stream is tried again before it is reported lost: long enough for a
 * server restart; the answer's durable log resumes it from the last event we saw.
 */
export const RECONNECT_WINDOW_MS = 60_000;
/** Our reopens wait this long first, twice as long each time after, up to the maximum. */
export const RECONNECT_FIRST_DELAY_MS = 500;
export const RECONNECT_MAX_DELAY_MS = 8_000;

/** The wait before our `attempt`-th reopen in a row (1-based). */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_FIRST_DELAY_MS * 2 ** Math.max(0, attempt - 1));
}

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

/** The body of a send's POST /chat/turns. */
export function buildTurnRequest(params: {
  message: string;
  clientMessageId: string;
  isOnboarding?: boolean;
  conversationId?: string | null;
  regenerate?: boolean;
}): StartTurnRequest {
  const { message, clientMessageId, isOnboarding = false } = params;
  return {
    message,
    client_message_id: clientMessageId,
    kind: isOnboarding ? 'onboarding' : 'chat',
    // The onboarding chat has one conversation, found by the server.
    ...(isOnboarding ? {} : { conversation_id: params.conversationId ?? null }),
    ...(params.regenerate ? { regenerate: true } : {}),
  };
}

/**
 * The stream of an answer already started (a send's, once posted, or one we follow): reading
 * it is not a send, nothing new is generated.
 */
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

/** The URL to read a target's answer from, once it has an id (a send's, from its POST). */
function targetUrl(
  target: StreamTarget,
  messageId: string,
  token: string,
  lastEventId: string | null,
): string {
  if (target.kind === 'continue') return buildContinueUrl({ messageId, token, lastEventId });
  return buildAnswerStreamUrl({ messageId, token, lastEventId });
}

/**
 * A stream token or a send's POST that failed. `refused`: the send surely left nothing on the
 * server (see StreamFailure).
 */
function toFailure(error: unknown, refused: boolean): StreamFailure {
  if (error instanceof ApiError) {
    return {
      code: error.code,
      message: error.message,
      retryable: isTransient(error),
      retryAfterS: error.retryAfterS,
      ...(refused ? { refused } : {}),
    };
  }
  return {
    code: 'network_error',
    message: MESSAGES.startFailed,
    retryable: true,
    ...(refused ? { refused } : {}),
  };
}

/**
 * Whether a send's failed POST surely stored nothing: a refusal (4xx) or a server that could
 * not start the answer (503). A lost reply (no status) or another 5xx may have stored the
 * message: Retry then repeats the same send, which the server never stores twice.
 */
function postRefused(error: unknown): boolean {
  return (
    error instanceof ApiError &&
    (error.status === 503 || (error.status >= 400 && error.status < 500))
  );
}

/** The server out of reach, busy or restarting: worth asking again. */
function isTransient(error: unknown): boolean {
  if (!(error instanceof ApiError)) return true;
  return error.status === 0 || error.status === 429 || error.status >= 500;
}

/** One stream from token to terminal event. Callbacks stop the moment it is finished. */
export class ActiveStream implements StreamHandle {
  private finished = false;
  private stopping = false;
  /** The server was asked to stop the answer (stop() may wait for `start` to ask). */
  private stopAsked = false;
  /** A request left this page (a send's POST, or a Continue's stream): it may be on the server. */
  private requested = false;
  /** The answer (or its continuation) runs on the server: a send's POST or `start` said so. */
  private started = false;
  private es: EventSource | null = null;
  /** Lets go of a send's POST still on its way when the stream is finished. */
  private readonly posting = new AbortController();
  private assistantMessageId: string | null;
  private lastEventId: string | null = null;
  private lastChunkIndex = -1;
  private receivedAny = false;
  /** Our reopens in a row that the server refused with an HTTP status. */
  private failedReconnects = 0;
  /** When the connection dropped (epoch ms); null while it is up. */
  private droppedAt: number | null = null;
  /** Our reopens since the drop, for the backoff. */
  private reconnectAttempts = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly maxReconnects: number;

  constructor(
    private readonly service: StreamBackend,
    private readonly target: StreamTarget,
    private readonly callbacks: StreamCallbacks,
    maxReconnects: number = DEFAULT_MAX_RECONNECTS,
    private readonly reconnectWindowMs: number = RECONNECT_WINDOW_MS,
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
      // A send asks for its token before posting: the rate limits refuse it now, before the
      // message is stored, and the token stays good for reading the answer the send spends.
      token = (await this.service.requestStreamToken(this.tokenPurpose())).token;
    } catch (error) {
      if (this.finished) return;
      // Reconnecting to a server still out of reach (or restarting): try again later.
      if (this.droppedAt !== null && isTransient(error)) this.reconnectLater();
      // Nothing was posted yet: a send's message was not stored.
      else this.fail(toFailure(error, this.target.kind === 'send' && !this.started));
      return;
    }
    if (this.finished) return; // detached or stopped while the token was on its way
    // A send posts its message first: false when refused, or over meanwhile (detached, stopped).
    if (this.target.kind === 'send' && this.assistantMessageId === null) {
      if (!(await this.postTurn(this.target))) return;
    }
    const messageId = this.assistantMessageId;
    if (messageId === null) return;
    const EventSourceImpl = globalThis.EventSource;
    const es = new EventSourceImpl(targetUrl(this.target, messageId, token, this.lastEventId));
    this.es = es;
    this.requested = true;
    es.onopen = () => {
      if (!this.finished && es === this.es) this.markConnected();
    };
    es.onmessage = (event: MessageEvent<string>) => {
      this.handleMessage(es, event);
    };
    es.onerror = () => {
      this.handleError(es);
    };
  }

  /**
   * Posts the send (POST /chat/turns) and takes its answer's id: the answer has started, so the
   * page hears `start` now, from the server's reply, and reads the answer by its id. A refusal
   * comes as plain JSON (413 too long, 409, 422, 429 with Retry-After, 403 streaming off), its
   * message readable as no EventSource error is. Returns false when the stream is over.
   */
  private async postTurn(target: Extract<StreamTarget, { kind: 'send' }>): Promise<boolean> {
    // From here a Stop names the send by its client_message_id: the send may be on the server.
    this.requested = true;
    let turn: ChatTurn;
    try {
      const { startTurn } = target.options;
      turn = await (startTurn
        ? startTurn(this.posting.signal)
        : this.service.startTurn(
            buildTurnRequest({
              message: target.message,
              clientMessageId: target.clientMessageId,
              isOnboarding: target.options.isOnboarding,
              conversationId: target.options.conversationId,
              regenerate: target.options.regenerate,
            }),
            this.posting.signal,
          ));
    } catch (error) {
      if (!this.finished) this.fail(toFailure(error, postRefused(error)));
      return false;
    }
    if (this.finished) return false;
    this.assistantMessageId = turn.assistant_message.id;
    this.started = true;
    this.callbacks.onStart?.({
      type: 'start',
      message_id: turn.assistant_message.id,
      conversation_id: turn.conversation_id,
      user_message_id: turn.user_message.id,
    });
    return !this.finished;
  }

  /**
   * Only a request that may start an answer (a send, a Continue) needs a token the rate limits
   * can refuse. Following an answer, or picking a stream up again after its events came (the
   * answer is on the server and a last event id makes the request a reader's), starts nothing:
   * a watch token, which the limits never refuse, so a user at the limit still sees the answer
   * they spent it on.
   */
  private tokenPurpose(): StreamTokenPurpose {
    // A send's answer, once posted, started on the server: reading it again starts nothing.
    const started = this.target.kind === 'send' && this.started;
    return this.target.kind === 'answer' || started || this.lastEventId !== null ? 'watch' : 'send';
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
      // The send's POST is on its way, so its answer's id is not known yet: name it by the
      // send. A send that reaches the server after the stop is stored stopped, not answered.
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
    this.markConnected();
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
        // A send's page heard `start` from its POST's reply already.
        if (this.target.kind !== 'send') this.callbacks.onStart?.(event);
        // A stop pressed while a Continue was on its way: the continuation runs now, stop it.
        if (this.stopping && !this.stopAsked && !this.finished) this.askToStop();
        return;
      case 'chunk':
        // A resumed stream continues after Last-Event-ID; never apply a chunk twice.
        if (event.index <= this.lastChunkIndex) return;
        this.lastChunkIndex = event.index;
        this.callbacks.onChunk(event);
        return;
      case 'queued':
        // Only before the answer's first word: once text came, its wait is over.
        if (this.lastChunkIndex < 0) this.callbacks.onQueued?.(event.position);
        return;
      case 'complete':
        this.finish();
        this.callbacks.onComplete(event);
        return;
      case 'error':
        this.finish();
        // Stopped (here or in another tab): every chunk before it was delivered.
        if (event.code === 'cancelled') {
          this.callbacks.onCancelled(event.content ?? null);
          return;
        }
        this.callbacks.onError({
          code: event.code,
          message: event.message,
          retryable: event.retryable,
          kept: event.content ?? null,
        });
        return;
    }
  }

  /**
   * A drop: the browser reconnects once by itself (with Last-Event-ID, after the server's
   * `retry:`). If that fails too, or the server refuses the connection with a plain HTTP status
   * (most often the stream token expired), we reopen by hand with a fresh token, continuing
   * after the last event we saw, waiting longer each time, for RECONNECT_WINDOW_MS at most.
   */
  private handleError(es: EventSource): void {
    if (this.finished || es !== this.es) return;
    const refused = es.readyState === READY_STATE_CLOSED;
    if (refused && !this.receivedAny && this.droppedAt === null) {
      // The first connection refused with a plain HTTP status.
      this.fail({ code: 'stream_start_failed', message: MESSAGES.startFailed, retryable: true });
      return;
    }
    const firstDrop = this.droppedAt === null;
    this.markDropped();
    if (!refused && firstDrop) return; // the browser is reconnecting
    if (refused) {
      this.failedReconnects += 1;
      if (this.failedReconnects > this.maxReconnects) {
        this.fail({ code: 'connection_lost', message: MESSAGES.connectionLost, retryable: true });
        return;
      }
    }
    this.closeEventSource();
    this.reconnectLater();
  }

  /** The next reopen, after a longer wait each time; lost once the window has passed. */
  private reconnectLater(): void {
    const droppedAt = this.droppedAt ?? Date.now();
    if (Date.now() - droppedAt >= this.reconnectWindowMs) {
      this.fail({ code: 'connection_lost', message: MESSAGES.connectionLost, retryable: true });
      return;
    }
    this.reconnectAttempts += 1;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.open();
    }, reconnectDelayMs(this.reconnectAttempts));
  }

  private markDropped(): void {
    if (this.droppedAt !== null) return;
    this.droppedAt = Date.now();
    this.callbacks.onConnectionChange?.(true);
  }

  private markConnected(): void {
    if (this.droppedAt === null) return;
    this.droppedAt = null;
    this.reconnectAttempts = 0;
    this.callbacks.onConnectionChange?.(false);
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
      es.onopen = null;
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
    this.posting.abort();
    this.closeEventSource();
  }
}
