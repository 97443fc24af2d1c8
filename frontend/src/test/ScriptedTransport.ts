// A ChatTransport double for ChatSession tests: records each turn (a send, or an answer it
// follows) and lets the test play the server's side of it (start, text, complete, error, stop).

import { vi } from 'vitest';

import type { Message } from '../api/types';
import type { ChatError } from '../chat/messages';
import type {
  ChatTransport,
  TurnCallbacks,
  TurnEnd,
  TurnHandle,
  TurnRequest,
} from '../chat/transport';

export interface ScriptedTurn {
  /** Null for an answer followed by attach(). */
  request: TurnRequest | null;
  /** The answer followed, for attach(); null for a send. */
  attachedTo: string | null;
  callbacks: TurnCallbacks;
  detach: ReturnType<typeof vi.fn>;
  stop: ReturnType<typeof vi.fn>;
  start: (ids?: { conversationId?: string; userMessageId?: string }) => void;
  text: (...pieces: string[]) => void;
  complete: (end?: Partial<TurnEnd>) => void;
  /** The answer as the non-streaming endpoints return it. */
  answer: (message: Message, end?: Partial<TurnEnd>) => void;
  fail: (error?: Partial<ChatError>) => void;
  /** The server says the answer stopped, with the text it stored (null: what was sent). */
  cancelled: (content?: string | null) => void;
}

let seq = 0;

export class ScriptedTransport implements ChatTransport {
  turns: ScriptedTurn[] = [];
  /** Messages longer than this do not fit (a stream URL's limit, in the app). */
  maxChars = Infinity;
  readonly attach?: (assistantMessageId: string, callbacks: TurnCallbacks) => TurnHandle;

  constructor(readonly streams: boolean) {
    // Like the app's transports: only a streaming one can follow an answer it did not send.
    if (streams) {
      this.attach = (assistantMessageId, callbacks) =>
        this.record(null, assistantMessageId, callbacks);
    }
  }

  canSend(request: TurnRequest): boolean {
    return request.text.length <= this.maxChars;
  }

  send(request: TurnRequest, callbacks: TurnCallbacks): TurnHandle {
    return this.record(request, null, callbacks);
  }

  latest(): ScriptedTurn {
    const turn = this.turns.at(-1);
    if (turn === undefined) throw new Error('no turn was sent');
    return turn;
  }

  private record(
    request: TurnRequest | null,
    attachedTo: string | null,
    callbacks: TurnCallbacks,
  ): TurnHandle {
    seq += 1;
    const assistantMessageId = attachedTo ?? `answer-${seq}`;
    const conversationId = request?.conversationId ?? `conv-${seq}`;
    const turn: ScriptedTurn = {
      request,
      attachedTo,
      callbacks,
      detach: vi.fn(),
      stop: vi.fn(),
      start: (ids = {}) => {
        callbacks.onStart({
          conversationId: ids.conversationId ?? conversationId,
          userMessageId: ids.userMessageId ?? `question-${seq}`,
          assistantMessageId,
        });
      },
      text: (...pieces) => {
        for (const piece of pieces) callbacks.onText(piece);
      },
      complete: (end = {}) => {
        callbacks.onComplete({
          conversationId,
          assistantMessageId,
          answer: null,
          onboarding: null,
          ...end,
        });
      },
      answer: (message, end = {}) => {
        callbacks.onComplete({
          conversationId: message.conversation_id,
          assistantMessageId: message.id,
          answer: message,
          onboarding: null,
          ...end,
        });
      },
      fail: (error = {}) => {
        callbacks.onError({
          code: 'llm_error',
          message: 'The model failed.',
          retryable: true,
          ...error,
        });
      },
      cancelled: (content = null) => {
        callbacks.onCancelled(content);
      },
    };
    this.turns.push(turn);
    return { detach: turn.detach as () => void, stop: turn.stop as () => void };
  }
}
