// A ChatTransport double for ChatSession tests: records each turn (a send, an answer it follows,
// or one it continues) and lets the test play the server's side of it (start, text, complete,
// error, stop).

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
  /** Null for an answer followed by attach() or continued by continueAnswer(). */
  request: TurnRequest | null;
  /** The answer followed, for attach(); null otherwise. */
  attachedTo: string | null;
  /** The answer continued, for continueAnswer(); null otherwise. */
  continued: string | null;
  callbacks: TurnCallbacks;
  detach: ReturnType<typeof vi.fn>;
  stop: ReturnType<typeof vi.fn>;
  start: (ids?: { conversationId?: string; userMessageId?: string; prefix?: string }) => void;
  text: (...pieces: string[]) => void;
  complete: (end?: Partial<TurnEnd>) => void;
  /** The answer as the non-streaming endpoints return it. */
  answer: (message: Message, end?: Partial<TurnEnd>) => void;
  /** `kept`: the text the server kept, when it differs from what was streamed. */
  fail: (error?: Partial<ChatError>, kept?: string | null) => void;
  /** The server says the answer stopped, with the text it stored (null: what was sent). */
  cancelled: (content?: string | null) => void;
}

let seq = 0;

export class ScriptedTransport implements ChatTransport {
  turns: ScriptedTurn[] = [];
  readonly attach?: (assistantMessageId: string, callbacks: TurnCallbacks) => TurnHandle;
  readonly continueAnswer?: (assistantMessageId: string, callbacks: TurnCallbacks) => TurnHandle;

  constructor(readonly streams: boolean) {
    // Like the app's transports: only a streaming one can follow an answer it did not send,
    // or continue one.
    if (streams) {
      this.attach = (assistantMessageId, callbacks) =>
        this.record(null, { attachedTo: assistantMessageId }, callbacks);
      this.continueAnswer = (assistantMessageId, callbacks) =>
        this.record(null, { continued: assistantMessageId }, callbacks);
    }
  }

  send(request: TurnRequest, callbacks: TurnCallbacks): TurnHandle {
    return this.record(request, {}, callbacks);
  }

  latest(): ScriptedTurn {
    const turn = this.turns.at(-1);
    if (turn === undefined) throw new Error('no turn was sent');
    return turn;
  }

  private record(
    request: TurnRequest | null,
    answer: { attachedTo?: string; continued?: string },
    callbacks: TurnCallbacks,
  ): TurnHandle {
    seq += 1;
    const { attachedTo = null, continued = null } = answer;
    const assistantMessageId = attachedTo ?? continued ?? `answer-${seq}`;
    const conversationId = request?.conversationId ?? `conv-${seq}`;
    const turn: ScriptedTurn = {
      request,
      attachedTo,
      continued,
      callbacks,
      detach: vi.fn(),
      stop: vi.fn(),
      start: (ids = {}) => {
        callbacks.onStart({
          conversationId: ids.conversationId ?? conversationId,
          userMessageId: ids.userMessageId ?? `question-${seq}`,
          assistantMessageId,
          prefix: ids.prefix ?? null,
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
          content: null,
          onboarding: null,
          ...end,
        });
      },
      answer: (message, end = {}) => {
        callbacks.onComplete({
          conversationId: message.conversation_id,
          assistantMessageId: message.id,
          answer: message,
          content: null,
          onboarding: null,
          ...end,
        });
      },
      fail: (error = {}, kept = null) => {
        callbacks.onError(
          {
            code: 'llm_error',
            message: 'The model failed.',
            retryable: true,
            ...error,
          },
          kept,
        );
      },
      cancelled: (content = null) => {
        callbacks.onCancelled(content);
      },
    };
    this.turns.push(turn);
    return { detach: turn.detach as () => void, stop: turn.stop as () => void };
  }
}
