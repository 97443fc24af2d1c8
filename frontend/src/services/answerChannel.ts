// Word between the tabs of this browser that an answer has started, or a stopped one is being
// continued, so a tab showing that conversation follows it too and holds its own sends until the
// answer has ended (BroadcastChannel; where there is none, tabs learn it on opening the
// conversation instead).

export const ANSWER_CHANNEL_NAME = 'chatstream';

/** A tab's send was accepted: answer `messageId` to `question` is being written. */
export interface AnswerStarted {
  type: 'answer-started';
  conversationId: string;
  messageId: string;
  userMessageId: string;
  question: string;
  clientMessageId: string;
  /**
   * An edit & resend: the server id of the question this one is a new version of, which the
   * other tabs take away (with what follows it) to show this one in its place.
   */
  replaces?: string;
}

/** A tab's Continue was accepted: stopped answer `messageId` is being written again. */
export interface AnswerContinued {
  type: 'answer-continued';
  conversationId: string;
  messageId: string;
}

/**
 * A tab's answer `messageId` ended (complete, failed or stopped): a tab that could not follow
 * it knows the conversation takes new messages again.
 */
export interface AnswerEnded {
  type: 'answer-ended';
  conversationId: string;
  messageId: string;
}

export type AnswerAnnouncement = AnswerStarted | AnswerContinued | AnswerEnded;

export interface AnswerChannel {
  /** Tells the other tabs; this tab's own listeners do not hear it. */
  announce: (event: AnswerAnnouncement) => void;
  /** Returns a function that stops listening. */
  listen: (listener: (event: AnswerAnnouncement) => void) => () => void;
}

/** The string fields each kind of announcement carries. */
const FIELDS: ReadonlyMap<string, readonly string[]> = new Map<
  AnswerAnnouncement['type'],
  readonly string[]
>([
  [
    'answer-started',
    ['conversationId', 'messageId', 'userMessageId', 'question', 'clientMessageId'],
  ],
  ['answer-continued', ['conversationId', 'messageId']],
  ['answer-ended', ['conversationId', 'messageId']],
]);

function isAnnouncement(data: unknown): data is AnswerAnnouncement {
  if (typeof data !== 'object' || data === null) return false;
  const event = data as Record<string, unknown>;
  const fields = FIELDS.get(String(event.type));
  if (event.replaces !== undefined && typeof event.replaces !== 'string') return false;
  return fields !== undefined && fields.every((key) => typeof event[key] === 'string');
}

/** The channel over BroadcastChannel, opened while someone listens or announces. */
class BroadcastAnswerChannel implements AnswerChannel {
  private channel: BroadcastChannel | null = null;
  private readonly listeners = new Set<(event: AnswerAnnouncement) => void>();

  readonly announce = (event: AnswerAnnouncement): void => {
    this.open().postMessage(event);
  };

  readonly listen = (listener: (event: AnswerAnnouncement) => void): (() => void) => {
    this.listeners.add(listener);
    this.open();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.close();
    };
  };

  private open(): BroadcastChannel {
    if (this.channel !== null) return this.channel;
    const channel = new BroadcastChannel(ANSWER_CHANNEL_NAME);
    channel.onmessage = (message: MessageEvent) => {
      if (!isAnnouncement(message.data)) return;
      for (const listener of [...this.listeners]) listener(message.data);
    };
    this.channel = channel;
    return channel;
  }

  private close(): void {
    this.channel?.close();
    this.channel = null;
  }
}

const SILENT: AnswerChannel = {
  announce: () => undefined,
  listen: () => () => undefined,
};

/** A channel between this tab and the others; a silent one where BroadcastChannel is missing. */
export function openAnswerChannel(): AnswerChannel {
  return typeof globalThis.BroadcastChannel === 'function' ? new BroadcastAnswerChannel() : SILENT;
}
