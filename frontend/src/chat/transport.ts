// How one turn reaches the server and its answer comes back. Two transports share one shape:
// the message posted and its answer streamed over SSE (ChatService.streamMessage), or the whole
// answer from the non-streaming POST endpoints. ChatSession picks one; it never asks which kind
// it has. A streaming transport can also follow an answer it did not send (attach), and
// continue a stopped answer where it stopped (continueAnswer).

import type { ChatTurn, Message, OnboardingProgress } from '../api/types';
import type { ChatClient, StreamCallbacks } from '../services/chatService';

import type { ChatError } from './messages';
import { failureToChatError, toChatError } from './messages';

/** One send, as the server sees it (docs/api.md, "Idempotent sends"). */
export interface TurnRequest {
  text: string;
  isOnboarding: boolean;
  conversationId: string | null;
  clientMessageId: string;
  /** A retry of a failed answer: the server answers the stored question anew. */
  regenerate: boolean;
  /**
   * A new version of the latest exchange (docs/api.md, "Versions"): its answer regenerated, or
   * its question edited (`text` is then the new text). Streaming transports only.
   */
  version?: VersionChange | null;
}

export type VersionChange =
  { kind: 'regenerate'; answerId: string } | { kind: 'edit'; messageId: string };

/** The server stored the question and started the answer. */
export interface TurnStart {
  conversationId: string;
  userMessageId: string;
  assistantMessageId: string;
  /** A continued answer's text so far, which the text that follows goes on from; else null. */
  prefix: string | null;
}

export interface TurnEnd {
  conversationId: string;
  assistantMessageId: string;
  /** The stored answer, when it came whole; a streamed answer is the text sent so far. */
  answer: Message | null;
  /** A continued answer's whole text as stored; null when the text sent is the answer. */
  content: string | null;
  onboarding: OnboardingProgress | null;
}

/** Exactly one of onComplete / onError / onCancelled ends a turn, unless it is detached first. */
export interface TurnCallbacks {
  onStart: (start: TurnStart) => void;
  onText: (text: string) => void;
  onComplete: (end: TurnEnd) => void;
  /** `kept`: the answer's text as the server kept it, when it differs from what was streamed. */
  onError: (error: ChatError, kept?: string | null) => void;
  /**
   * The answer was stopped (by this turn's stop(), or by a Stop elsewhere). `content` is the
   * text the server stored when it said so; null when the text delivered so far is all there is.
   */
  onCancelled: (content: string | null) => void;
  /** The answer's connection dropped (true) or is back (false); streams only. */
  onConnectionChange?: (reconnecting: boolean) => void;
  /** The answer waits for the model, `position` in line (1 = next); streams only. */
  onQueued?: (position: number) => void;
}

/** A turn on its way. */
export interface TurnHandle {
  /** We stop listening; the answer goes on without us. No callback follows. */
  detach: () => void;
  /** Asks the server to stop the answer; the turn then ends with onCancelled (see TurnCallbacks). */
  stop: () => void;
}

export interface ChatTransport {
  /** Whether answer text arrives piece by piece (else all at once, after a wait). */
  readonly streams: boolean;
  send: (request: TurnRequest, callbacks: TurnCallbacks) => TurnHandle;
  /**
   * Follows answer `assistantMessageId`, already being written, from its first word. Absent
   * where the transport cannot: a whole answer comes only as the reply to its own request.
   */
  attach?: (assistantMessageId: string, callbacks: TurnCallbacks) => TurnHandle;
  /**
   * Continues answer `assistantMessageId`, stopped or interrupted, where it stopped: onStart
   * carries the text so far, onText the rest. Absent where the transport cannot.
   */
  continueAnswer?: (assistantMessageId: string, callbacks: TurnCallbacks) => TurnHandle;
}

/** The code of a 403 from the stream endpoints when streaming is off for this user. */
export const STREAMING_DISABLED = 'streaming_disabled';

/** The stream's events as a turn's callbacks. */
function streamCallbacks(callbacks: TurnCallbacks): StreamCallbacks {
  return {
    onStart: (event) => {
      callbacks.onStart({
        conversationId: event.conversation_id,
        userMessageId: event.user_message_id,
        assistantMessageId: event.message_id,
        prefix: event.prefix ?? null,
      });
    },
    onChunk: (event) => {
      callbacks.onText(event.content);
    },
    onComplete: (event) => {
      callbacks.onComplete({
        conversationId: event.conversation_id,
        assistantMessageId: event.message_id,
        answer: null,
        content: event.content ?? null,
        onboarding: event.onboarding,
      });
    },
    onError: (failure) => {
      callbacks.onError(failureToChatError(failure), failure.kept ?? null);
    },
    onCancelled: (content) => {
      callbacks.onCancelled(content);
    },
    onConnectionChange: (reconnecting) => {
      callbacks.onConnectionChange?.(reconnecting);
    },
    onQueued: (position) => {
      callbacks.onQueued?.(position);
    },
  };
}

/**
 * SSE: stream token, the message posted in a body (any length the server takes), EventSource on
 * its answer, resume after a drop, server-side stop (streamConnection.ts).
 */
export class StreamingTransport implements ChatTransport {
  readonly streams = true;

  constructor(
    private readonly client: Pick<
      ChatClient,
      'streamMessage' | 'attachToAnswer' | 'continueAnswer' | 'regenerateAnswer' | 'editMessage'
    >,
  ) {}

  send(request: TurnRequest, callbacks: TurnCallbacks): TurnHandle {
    return this.client.streamMessage(
      request.text,
      {
        isOnboarding: request.isOnboarding,
        conversationId: request.conversationId,
        clientMessageId: request.clientMessageId,
        regenerate: request.regenerate,
        startTurn: this.versionStart(request),
      },
      streamCallbacks(callbacks),
    );
  }

  /** How a new version's turn starts, in place of a send's POST; undefined for a send. */
  private versionStart(
    request: TurnRequest,
  ): ((signal: AbortSignal) => Promise<ChatTurn>) | undefined {
    const { version } = request;
    if (version === undefined || version === null) return undefined;
    if (version.kind === 'regenerate') {
      return (signal) =>
        this.client.regenerateAnswer(version.answerId, request.clientMessageId, signal);
    }
    return (signal) =>
      this.client.editMessage(version.messageId, request.text, request.clientMessageId, signal);
  }

  attach(assistantMessageId: string, callbacks: TurnCallbacks): TurnHandle {
    return this.client.attachToAnswer(assistantMessageId, streamCallbacks(callbacks));
  }

  continueAnswer(assistantMessageId: string, callbacks: TurnCallbacks): TurnHandle {
    return this.client.continueAnswer(assistantMessageId, streamCallbacks(callbacks));
  }
}

/**
 * One POST, the whole answer in its response. Leaving aborts the request; Stop aborts it and
 * asks the server to stop the answer by the send's client_message_id.
 */
export class WholeAnswerTransport implements ChatTransport {
  readonly streams = false;

  constructor(private readonly client: Pick<ChatClient, 'sendMessage' | 'cancelSend'>) {}

  send(request: TurnRequest, callbacks: TurnCallbacks): TurnHandle {
    const abort = new AbortController();
    if (request.version) {
      // New versions stream (their answers are read as a send's): never sent as a message here.
      callbacks.onError({
        code: 'streaming_required',
        message: 'Regenerate and edit need streaming answers.',
        retryable: false,
        refused: true,
      });
      return { detach: () => undefined, stop: () => undefined };
    }
    this.client
      .sendMessage(request.text, {
        isOnboarding: request.isOnboarding,
        conversationId: request.conversationId,
        clientMessageId: request.clientMessageId,
        regenerate: request.regenerate,
        signal: abort.signal,
      })
      .then(
        (response) => {
          if (abort.signal.aborted) return;
          callbacks.onStart({
            conversationId: response.conversation_id,
            userMessageId: response.user_message.id,
            assistantMessageId: response.assistant_message.id,
            prefix: null,
          });
          callbacks.onComplete({
            conversationId: response.conversation_id,
            assistantMessageId: response.assistant_message.id,
            answer: response.assistant_message,
            content: null,
            onboarding: response.onboarding ?? null,
          });
        },
        (reason: unknown) => {
          if (!abort.signal.aborted) callbacks.onError(toChatError(reason));
        },
      );
    return {
      detach: () => {
        abort.abort();
      },
      stop: () => {
        if (abort.signal.aborted) return;
        abort.abort();
        this.client.cancelSend(request.clientMessageId).then(
          (ack) => {
            callbacks.onCancelled(ack.status === 'cancelled' ? ack.content : null);
          },
          () => {
            callbacks.onCancelled(null);
          },
        );
      },
    };
  }
}
