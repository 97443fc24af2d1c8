// How one turn reaches the server and its answer comes back. Two transports share one shape:
// the answer streamed over SSE (ChatService.streamMessage), or the whole answer from the
// non-streaming POST endpoints. ChatSession picks one; it never asks which kind it has.

import type { Message, OnboardingProgress } from '../api/types';
import type { ChatClient } from '../services/chatService';

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
}

/** The server stored the question and started the answer. */
export interface TurnStart {
  conversationId: string;
  userMessageId: string;
  assistantMessageId: string;
}

export interface TurnEnd {
  conversationId: string;
  assistantMessageId: string;
  /** The stored answer, when it came whole; a streamed answer is the text sent so far. */
  answer: Message | null;
  onboarding: OnboardingProgress | null;
}

/** Exactly one of onComplete / onError ends a turn, unless it is cancelled first. */
export interface TurnCallbacks {
  onStart: (start: TurnStart) => void;
  onText: (text: string) => void;
  onComplete: (end: TurnEnd) => void;
  onError: (error: ChatError) => void;
}

/** Stops the turn; no callback follows. */
export type CancelTurn = () => void;

export interface ChatTransport {
  /** Whether answer text arrives piece by piece (else all at once, after a wait). */
  readonly streams: boolean;
  /** False when this transport cannot carry the message (then the fallback takes it). */
  canSend: (request: TurnRequest) => boolean;
  send: (request: TurnRequest, callbacks: TurnCallbacks) => CancelTurn;
}

/** The code of a 403 from the stream endpoints when streaming is off for this user. */
export const STREAMING_DISABLED = 'streaming_disabled';

/** SSE: stream token, EventSource, resume after a drop, server-side cancel (streamConnection.ts). */
export class StreamingTransport implements ChatTransport {
  readonly streams = true;

  constructor(private readonly client: Pick<ChatClient, 'streamMessage' | 'fitsInStreamUrl'>) {}

  canSend(request: TurnRequest): boolean {
    return this.client.fitsInStreamUrl(request.text, { isOnboarding: request.isOnboarding });
  }

  send(request: TurnRequest, callbacks: TurnCallbacks): CancelTurn {
    return this.client.streamMessage(
      request.text,
      {
        isOnboarding: request.isOnboarding,
        conversationId: request.conversationId,
        clientMessageId: request.clientMessageId,
        regenerate: request.regenerate,
      },
      {
        onStart: (event) => {
          callbacks.onStart({
            conversationId: event.conversation_id,
            userMessageId: event.user_message_id,
            assistantMessageId: event.message_id,
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
            onboarding: event.onboarding,
          });
        },
        onError: (failure) => {
          callbacks.onError(failureToChatError(failure));
        },
      },
    );
  }
}

/** One POST, the whole answer in its response; cancel aborts the request. */
export class WholeAnswerTransport implements ChatTransport {
  readonly streams = false;

  constructor(private readonly client: Pick<ChatClient, 'sendMessage'>) {}

  canSend(): boolean {
    return true;
  }

  send(request: TurnRequest, callbacks: TurnCallbacks): CancelTurn {
    const abort = new AbortController();
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
          });
          callbacks.onComplete({
            conversationId: response.conversation_id,
            assistantMessageId: response.assistant_message.id,
            answer: response.assistant_message,
            onboarding: response.onboarding ?? null,
          });
        },
        (reason: unknown) => {
          if (!abort.signal.aborted) callbacks.onError(toChatError(reason));
        },
      );
    return () => {
      abort.abort();
    };
  }
}
