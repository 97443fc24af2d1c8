// A ChatTransport double for ChatSession tests: records each turn and lets the test play the
// server's side of it (start, text, complete, error).

import { vi } from 'vitest';

import type { Message } from '../api/types';
import type { ChatError } from '../chat/messages';
import type { ChatTransport, TurnCallbacks, TurnEnd, TurnRequest } from '../chat/transport';

export interface ScriptedTurn {
  request: TurnRequest;
  callbacks: TurnCallbacks;
  cancel: ReturnType<typeof vi.fn>;
  start: (ids?: { conversationId?: string; userMessageId?: string }) => void;
  text: (...pieces: string[]) => void;
  complete: (end?: Partial<TurnEnd>) => void;
  /** The answer as the non-streaming endpoints return it. */
  answer: (message: Message, end?: Partial<TurnEnd>) => void;
  fail: (error?: Partial<ChatError>) => void;
}

let seq = 0;

export class ScriptedTransport implements ChatTransport {
  turns: ScriptedTurn[] = [];
  /** Messages longer than this do not fit (a stream URL's limit, in the app). */
  maxChars = Infinity;

  constructor(readonly streams: boolean) {}

  canSend(request: TurnRequest): boolean {
    return request.text.length <= this.maxChars;
  }

  send(request: TurnRequest, callbacks: TurnCallbacks) {
    seq += 1;
    const assistantMessageId = `answer-${seq}`;
    const conversationId = request.conversationId ?? `conv-${seq}`;
    const turn: ScriptedTurn = {
      request,
      callbacks,
      cancel: vi.fn(),
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
    };
    this.turns.push(turn);
    return turn.cancel as () => void;
  }

  latest(): ScriptedTurn {
    const turn = this.turns.at(-1);
    if (turn === undefined) throw new Error('no turn was sent');
    return turn;
  }
}
