// One chat, outside React: the turn in flight (idle → submitted/streaming → idle or error), the
// window of messages around it, streamed text applied at most once per frame, stop, retry and
// continue. A turn is a send of ours, a Continue of ours (a stopped answer written on, in its
// own bubble), or an answer we follow: the conversation's newest answer still being written
// when it opens (sent or continued before a reload, or elsewhere), or one another tab announces.
// Leaving a conversation only lets go of its answer; Stop is what stops it, on the server.
// The onboarding chat and the free chat differ only in `isOnboarding`. useChat binds it to React
// with useSyncExternalStore; MessagePager fills its window with history from the server.
// One state machine, kept in one file on purpose: a turn, its messages and the window around
// them change together; the pure message helpers live in messages.ts.

import type { ChatTurn, MessagePage, OnboardingProgress } from '../api/types';
import { scheduleFrame } from '../lib/frame';
import { newId } from '../lib/ids';
import { Store } from '../lib/store';
import type { AnswerAnnouncement, AnswerChannel } from '../services/answerChannel';

import type { ChatError, ChatMessage } from './messages';
import {
  fromServerMessage,
  HISTORY_LIMIT,
  isContinuable,
  keepNewest,
  localMessage,
  oldestServerId,
  prependPage,
  toChatError,
  updateMessage,
  versionsSoFar,
} from './messages';
import type {
  ChatTransport,
  TurnCallbacks,
  TurnHandle,
  TurnRequest,
  TurnStart,
  VersionChange,
} from './transport';
import { STREAMING_DISABLED } from './transport';

export type ChatStatus = 'idle' | 'submitted' | 'streaming' | 'error';

/**
 * An answer this tab did not ask for is being written in the conversation: one another tab
 * announced, or one found being written on opening it (sent before a reload, or elsewhere).
 */
export type AnswerElsewhere = 'another-tab' | 'on-opening';

export interface TurnResult {
  conversationId: string;
  onboarding: OnboardingProgress | null;
}

export interface ChatSnapshot {
  messages: ChatMessage[];
  /** Older messages exist on the server (never loaded, or dropped from the window). */
  hasEarlier: boolean;
  status: ChatStatus;
  error: ChatError | null;
  /**
   * Why the last send was refused before the server took it (a rate limit, too long, the
   * server out of reach): its bubble is gone and its text went back to onSendRefused.
   */
  sendError: ChatError | null;
  conversationId: string | null;
  /** Whether answers stream (false: whole answers, by choice or because the server refused). */
  isStreamingMode: boolean;
  /**
   * Set while an answer this tab did not ask for is being written here: a send (or Retry, or
   * Continue) waits until it has ended, so one conversation never gets two answers at once.
   */
  answerElsewhere: AnswerElsewhere | null;
}

export interface ChatSessionOptions {
  isOnboarding: boolean;
  /** The conversation shown at first; null starts a new one on the first send. */
  conversationId?: string | null;
  transport: ChatTransport;
  /** Carries every turn once the server refuses to stream (403 streaming_disabled). */
  fallback: ChatTransport;
  /** How many messages the window holds; older ones stay on the server. */
  historyLimit?: number;
  /** A new conversation got its id from the server (first answer of a new chat). */
  onConversationStarted?: (conversationId: string) => void;
  /** An answer finished; carries the onboarding progress on the onboarding chat. */
  onTurnComplete?: (result: TurnResult) => void;
  /** Word to and from this browser's other tabs that an answer started (see watchOtherTabs). */
  channel?: AnswerChannel;
  /**
   * A new message the server did not take: `text` goes back to the box, so nothing typed is
   * lost (the reason is the snapshot's sendError).
   */
  onSendRefused?: (text: string, error: ChatError) => void;
  /**
   * A new message is in the conversation now (its answer started, or it ended otherwise than
   * refused): a draft kept until then can go. Called at most once per send, never with
   * onSendRefused.
   */
  onSendAccepted?: (text: string) => void;
  /**
   * Shows version `messageId` of its message on the server (POST /chat/messages/{id}/choose):
   * resolves with the exchange as it then reads. Without it, versions cannot be flipped.
   */
  chooseVersion?: (messageId: string) => Promise<ChatTurn>;
}

/** What a retry reuses: the failed turn's user message and its idempotency key. */
interface Retry {
  userKey: string;
  /** Null only for a message stored without one: it is then sent as a new message. */
  clientMessageId: string | null;
}

interface Turn {
  /**
   * Null for an answer we follow or continue: its question is already on screen, or not in the
   * window.
   */
  userKey: string | null;
  assistantKey: string;
  /** Null for an answer we follow or continue: nothing is sent. */
  request: TurnRequest | null;
  /**
   * A send of a new message (not a retry) whose fate is not told yet (onSendAccepted or
   * onSendRefused); refused, it leaves no bubble behind.
   */
  isNewMessage: boolean;
  /** A Continue: the answer as it stood, put back if the continuation never starts. */
  before: ChatMessage | null;
  handle: TurnHandle | null;
  /** Stop was asked for: the turn ends when the server says the answer stopped. */
  stopping: boolean;
  /**
   * The answer started (a send's POST was accepted, or the stream's `start` came): from then on
   * its failures are the answer's.
   */
  started: boolean;
  /**
   * A followed or continued answer is told again: from its first chunk, or from the text so far
   * (a continuation's `start` carries it). Its text gathers here until it reaches what is shown
   * of it, then replaces that: nothing shows twice, and the text on screen never shrinks. Null
   * once replaced, and for a send.
   */
  retold: string | null;
  /**
   * A new version (regenerate, edit): the window as it was, put back if the server refuses the
   * version before its answer starts. Null otherwise.
   */
  restore: ChatMessage[] | null;
  /** A new version: the message (by key) that gets it, and its versions before it. */
  versionBase: { key: string; ids: string[] } | null;
}

export class ChatSession {
  readonly historyLimit: number;
  readonly isOnboarding: boolean;
  private readonly store: Store<ChatSnapshot>;
  private readonly fallback: ChatTransport;
  private transport: ChatTransport;
  /** Set when the server refuses a stream (403 streaming_disabled) despite the config. */
  private streamingRefused = false;
  private turn: Turn | null = null;
  /** Grows when the user loads earlier messages, so the next answer does not drop them. */
  private windowLimit: number;
  private pendingText = '';
  private cancelFrame: (() => void) | null = null;
  /**
   * The turn's `start` was applied outside a frame, so React commits it on its own and it is
   * painted at the next frame: text that comes meanwhile waits for the frame after, or that
   * frame would hold two commits. Cleared (by this scheduled callback) at the next frame.
   */
  private startUnpainted: (() => void) | null = null;
  /**
   * The start was applied in the task still running: React has not rendered it yet, so what
   * else this task applies (a whole answer's end) joins its commit.
   */
  private startInThisTask = false;
  /**
   * Text was applied at the last animation frame and no frame has begun since: an end applied
   * now would be a second commit in that frame. Cleared at the next frame.
   */
  private textAtLastFrame: (() => void) | null = null;
  /**
   * The turn's end, held for the next frame's callback (see endAtFrame): it is applied there,
   * after that frame's text, in the same commit.
   */
  private pendingEnd: (() => void) | null = null;
  /** The server id of the answer `answerElsewhere` stands for. */
  private elsewhereId: string | null = null;

  constructor(private readonly options: ChatSessionOptions) {
    this.isOnboarding = options.isOnboarding;
    this.transport = options.transport;
    this.fallback = options.fallback;
    this.historyLimit = options.historyLimit ?? HISTORY_LIMIT;
    this.windowLimit = this.historyLimit;
    this.store = new Store<ChatSnapshot>({
      messages: [],
      hasEarlier: false,
      status: 'idle',
      error: null,
      sendError: null,
      conversationId: options.conversationId ?? null,
      isStreamingMode: this.transport.streams,
      answerElsewhere: null,
    });
  }

  readonly subscribe = (listener: () => void): (() => void) => this.store.subscribe(listener);

  readonly getSnapshot = (): ChatSnapshot => this.store.getSnapshot();

  get conversationId(): string | null {
    return this.getSnapshot().conversationId;
  }

  /** The id to page back from: the oldest message the server knows. */
  get oldestServerId(): string | null {
    return oldestServerId(this.getSnapshot().messages);
  }

  /** Chooses how later turns travel (the server's flag can change); the turn in flight keeps its own. */
  setTransport(transport: ChatTransport): void {
    this.transport = transport;
    const isStreamingMode = this.currentTransport().streams;
    if (isStreamingMode !== this.getSnapshot().isStreamingMode) {
      this.store.update({ isStreamingMode });
    }
  }

  /** Sends a message; returns false when refused (empty, or an answer is still coming). */
  send(text: string): boolean {
    if (text.trim() === '') return false;
    return this.startTurn(text, null);
  }

  /**
   * Removes the failed answer and asks the server to answer the last user message again (the
   * same client_message_id with `regenerate`: the question is not stored twice).
   */
  retryLastMessage(): boolean {
    if (this.turn !== null) return false;
    const { messages } = this.getSnapshot();
    const userIndex = messages.findLastIndex((m) => m.role === 'user');
    const user = messages[userIndex];
    if (user === undefined) return false;
    const failed = new Set(messages.slice(userIndex + 1).map((m) => m.id));
    this.store.update({ messages: messages.filter((m) => !failed.has(m.id)) });
    return this.startTurn(user.content, {
      userKey: user.id,
      clientMessageId: user.clientMessageId,
    });
  }

  /**
   * Continues the last answer, stopped or interrupted, where it stopped (docs/api.md,
   * "Continue"): the same message grows, and the other tabs follow it. Returns false when there
   * is none, an answer is in flight, or answers cannot be continued here (onboarding, or
   * answers that come whole).
   */
  continueLastAnswer(): boolean {
    if (this.turn !== null || this.isOnboarding || this.elsewhereId !== null) return false;
    const transport = this.currentTransport();
    const answer = this.getSnapshot().messages.at(-1);
    const serverId = answer?.serverId ?? null;
    if (transport.continueAnswer === undefined || answer === undefined || serverId === null) {
      return false;
    }
    if (!isContinuable(answer)) return false;
    this.track(answer.id, answer, (callbacks) => transport.continueAnswer?.(serverId, callbacks));
    return true;
  }

  /** Whether the latest exchange can get a new version here (docs/api.md, "Versions"). */
  get canMakeVersions(): boolean {
    return !this.isOnboarding && this.currentTransport().streams;
  }

  /**
   * Asks the server for another answer to the last question, whatever became of the last
   * answer; that answer stays a version the user can flip back to. Returns false when there is
   * no finished answer to regenerate, an answer is in flight, or versions cannot be made here.
   */
  regenerateLastAnswer(): boolean {
    if (!this.canStartVersion()) return false;
    const { messages } = this.getSnapshot();
    const answer = messages.at(-1);
    const question = messages.at(-2);
    if (answer?.role !== 'assistant' || answer.serverId === null) return false;
    if (question?.role !== 'user' || answer.isStreaming || answer.status === 'pending') {
      return false;
    }
    const request = this.versionRequest(question.content, {
      kind: 'regenerate',
      answerId: answer.serverId,
    });
    const assistantKey = newId();
    const turn = this.versionTurn(question.id, assistantKey, request, messages, {
      key: assistantKey,
      ids: versionsSoFar(answer),
    });
    this.append(messages.slice(0, -1), this.placeholder(turn, this.currentTransport()));
    this.run(turn, request, this.currentTransport());
    return true;
  }

  /**
   * Sends `text` as a new version of the last question (edit & resend); the question as it was,
   * with its answers, stays a version. Returns false when refused as regenerateLastAnswer is,
   * or when the text is blank or unchanged.
   */
  editLastMessage(text: string): boolean {
    if (text.trim() === '' || !this.canStartVersion()) return false;
    const { messages } = this.getSnapshot();
    const index = messages.findLastIndex((m) => m.role === 'user');
    const question = messages[index];
    if (question === undefined || question.serverId === null || question.content === text) {
      return false;
    }
    if (messages.slice(index + 1).some((m) => m.isStreaming || m.status === 'pending')) {
      return false;
    }
    const request = this.versionRequest(text, { kind: 'edit', messageId: question.serverId });
    const edited = localMessage(newId(), 'user', text, 'complete', false, request.clientMessageId);
    const turn = this.versionTurn(edited.id, newId(), request, messages, {
      key: edited.id,
      ids: versionsSoFar(question),
    });
    this.append(
      [...messages.slice(0, index), edited],
      this.placeholder(turn, this.currentTransport()),
    );
    this.run(turn, request, this.currentTransport());
    return true;
  }

  /**
   * Shows version `versionId` of the message shown under `key`: its exchange (question and
   * answer) is replaced by the server's, as it now reads. Resolves false when it could not be.
   */
  async showVersion(key: string, versionId: string): Promise<boolean> {
    const choose = this.options.chooseVersion;
    if (choose === undefined || this.turn !== null || this.elsewhereId !== null) return false;
    let exchange: ChatTurn;
    try {
      exchange = await choose(versionId);
    } catch (reason) {
      this.store.update({ sendError: toChatError(reason) });
      return false;
    }
    if (this.isTurnInFlight()) return false; // a send began meanwhile: it shows its own answer
    const { messages } = this.getSnapshot();
    const index = messages.findIndex((m) => m.id === key);
    if (index === -1) return false;
    const first = messages[index]?.role === 'user' ? index : index - 1;
    const start = messages[first]?.role === 'user' ? first : index;
    const end = messages[start + 1]?.role === 'assistant' ? start + 2 : start + 1;
    const shown = [
      fromServerMessage(exchange.user_message),
      fromServerMessage(exchange.assistant_message),
    ];
    this.store.update({
      messages: [...messages.slice(0, start), ...shown, ...messages.slice(end)],
      sendError: null,
    });
    return true;
  }

  /**
   * Stops the answer in progress, on the server (in every tab that follows it). What was
   * written before the stop still arrives; the answer then ends as the server stored it.
   */
  stop(): void {
    const turn = this.turn;
    // An end held for the next frame: the answer is over, there is nothing left to stop.
    if (turn === null || turn.stopping || this.pendingEnd !== null) return;
    turn.stopping = true;
    turn.handle?.stop();
  }

  /** The view is going away: let go of the answer (it goes on on the server), state untouched. */
  abandon(): void {
    this.detachTurn();
  }

  /**
   * Follows answers that other tabs start in the conversation on screen. Returns a function
   * that stops listening.
   */
  watchOtherTabs(): () => void {
    return (
      this.options.channel?.listen((event) => {
        this.followAnnouncedAnswer(event);
      }) ?? (() => undefined)
    );
  }

  /**
   * Shows `conversationId` from an empty window, letting go of the answer of the one we leave
   * (it goes on; coming back follows it again).
   * Returns false (and changes nothing) when it is the conversation already on screen, as when
   * the page adopts the id this session just got from the server.
   */
  openConversation(conversationId: string | null): boolean {
    const { conversationId: current, messages } = this.getSnapshot();
    if (conversationId !== null && conversationId === current) {
      if (this.turn !== null || messages.length > 0) return false;
    }
    this.detachTurn();
    this.windowLimit = this.historyLimit;
    this.elsewhereId = null;
    this.store.update({
      conversationId,
      messages: [],
      hasEarlier: false,
      status: 'idle',
      error: null,
      sendError: null,
      answerElsewhere: null,
    });
    return true;
  }

  /**
   * The newest page of the conversation, before anything sent meanwhile. An answer on it still
   * being written is followed from there.
   */
  showLatestPage(page: MessagePage): void {
    const { messages } = this.getSnapshot();
    const all = prependPage(messages, page.items.map(fromServerMessage));
    const kept = keepNewest(all, this.windowLimit);
    this.store.update({ messages: kept.messages, hasEarlier: page.has_more || kept.dropped });
    this.followStreamingAnswer();
  }

  /** A page of older messages the user asked for: the window widens to keep them. */
  showEarlierPage(page: MessagePage): void {
    this.windowLimit += page.items.length;
    const { messages } = this.getSnapshot();
    this.store.update({
      messages: prependPage(messages, page.items.map(fromServerMessage)),
      hasEarlier: page.has_more,
    });
  }

  /** Read through a call, so a check after an await is not narrowed by one made before it. */
  private isTurnInFlight(): boolean {
    return this.turn !== null;
  }

  private canStartVersion(): boolean {
    return this.turn === null && this.elsewhereId === null && this.canMakeVersions;
  }

  private versionRequest(text: string, version: VersionChange): TurnRequest {
    return {
      text,
      isOnboarding: false,
      conversationId: this.conversationId,
      clientMessageId: newId(),
      regenerate: false,
      version,
    };
  }

  /** The turn of a new version: not a new message (no draft to settle), the window kept. */
  private versionTurn(
    userKey: string,
    assistantKey: string,
    request: TurnRequest,
    restore: ChatMessage[],
    versionBase: { key: string; ids: string[] },
  ): Turn {
    const turn: Turn = {
      userKey,
      assistantKey,
      request,
      isNewMessage: false,
      before: null,
      handle: null,
      stopping: false,
      started: false,
      retold: null,
      restore,
      versionBase,
    };
    this.turn = turn;
    this.pendingText = '';
    return turn;
  }

  private currentTransport(): ChatTransport {
    return this.streamingRefused ? this.fallback : this.transport;
  }

  private startTurn(text: string, retry: Retry | null): boolean {
    // One answer at a time, in this tab and in the others.
    if (this.turn !== null || this.elsewhereId !== null) return false;
    const request: TurnRequest = {
      text,
      isOnboarding: this.isOnboarding,
      conversationId: this.conversationId,
      // A retry repeats the same send (same client_message_id) with `regenerate`, so the
      // server answers the question it already stored instead of storing it again.
      clientMessageId: retry?.clientMessageId ?? newId(),
      regenerate: retry !== null && retry.clientMessageId !== null,
    };
    const transport = this.currentTransport();
    const userKey = retry?.userKey ?? newId();
    const turn: Turn = {
      userKey,
      assistantKey: newId(),
      request,
      isNewMessage: retry === null,
      before: null,
      handle: null,
      stopping: false,
      started: false,
      retold: null,
      restore: null,
      versionBase: null,
    };
    this.turn = turn;
    this.pendingText = '';

    let messages = this.getSnapshot().messages;
    if (retry === null) {
      messages = [
        ...messages,
        localMessage(userKey, 'user', text, 'complete', false, request.clientMessageId),
      ];
    } else if (retry.clientMessageId === null) {
      // Keep the id this retry uses, so a second retry regenerates instead.
      messages = updateMessage(messages, userKey, (m) => ({
        ...m,
        clientMessageId: request.clientMessageId,
      }));
    }
    this.append(messages, this.placeholder(turn, transport));
    this.run(turn, request, transport);
    return true;
  }

  /** The assistant's message while the answer is on its way, and the status that goes with it. */
  private placeholder(turn: Turn, transport: ChatTransport): ChatMessage {
    const status = transport.streams ? 'streaming' : 'pending';
    return localMessage(turn.assistantKey, 'assistant', '', status, transport.streams);
  }

  /** Appends the placeholder after `messages`, keeping only the newest in the window. */
  private append(messages: ChatMessage[], placeholder: ChatMessage): void {
    const kept = keepNewest([...messages, placeholder], this.windowLimit);
    this.store.update({
      messages: kept.messages,
      hasEarlier: this.getSnapshot().hasEarlier || kept.dropped,
      status: placeholder.isStreaming ? 'streaming' : 'submitted',
      error: null,
      sendError: null,
    });
  }

  private run(turn: Turn, request: TurnRequest, transport: ChatTransport): void {
    const handle = transport.send(request, this.callbacksFor(turn));
    if (this.turn === turn) turn.handle = handle;
  }

  /** Follows the window's newest answer when the server is still writing it. */
  private followStreamingAnswer(): void {
    if (this.turn !== null) return;
    const answer = this.getSnapshot().messages.findLast((m) => m.role === 'assistant');
    if (answer?.status !== 'streaming' || answer.serverId === null) return;
    if (this.follow(answer.id, answer.serverId))
      this.writtenElsewhere('on-opening', answer.serverId);
  }

  /**
   * Another tab's send into the conversation on screen was accepted: show its question and
   * follow its answer. A retry there replaces the answers after the question, as it does here.
   * A Continue there: follow the answer shown here as it is written on.
   */
  private followAnnouncedAnswer(event: AnswerAnnouncement): void {
    if (this.turn !== null || event.conversationId !== this.conversationId) return;
    if (event.type === 'answer-ended') {
      // One this tab could not follow (a followed one ends by its own stream).
      if (event.messageId === this.elsewhereId) this.writtenElsewhere(null);
      return;
    }
    // Even when it cannot be followed here, sends wait for its end.
    this.writtenElsewhere('another-tab', event.messageId);
    if (this.currentTransport().attach === undefined) return;
    const { messages } = this.getSnapshot();
    const known = messages.find((m) => m.serverId === event.messageId);
    if (event.type === 'answer-continued') {
      if (known !== undefined) this.follow(known.id, event.messageId);
      return;
    }
    if (known !== undefined) {
      if (known.status === 'streaming') this.follow(known.id, event.messageId);
      return;
    }
    const userIndex = messages.findIndex((m) => m.serverId === event.userMessageId);
    // An edit there: its question takes the place of the version it was made from.
    const replaced = messages.findIndex((m) => m.serverId === (event.replaces ?? null));
    const question = {
      ...localMessage(newId(), 'user', event.question, 'complete', false, event.clientMessageId),
      serverId: event.userMessageId,
    };
    const before =
      userIndex !== -1
        ? messages.slice(0, userIndex + 1)
        : [...(replaced === -1 ? messages : messages.slice(0, replaced)), question];
    const answer = {
      ...localMessage(newId(), 'assistant', '', 'streaming', true),
      serverId: event.messageId,
    };
    this.append(before, answer);
    this.follow(answer.id, event.messageId);
  }

  /** Follows answer `messageId`, shown under `key`, when the transport can; says whether. */
  private follow(key: string, messageId: string): boolean {
    const transport = this.currentTransport();
    if (transport.attach === undefined) return false;
    this.track(key, null, (callbacks) => transport.attach?.(messageId, callbacks));
    return true;
  }

  /** Notes the answer this tab did not ask for (null: none any more). */
  private writtenElsewhere(from: AnswerElsewhere | null, messageId: string | null = null): void {
    this.elsewhereId = from === null ? null : messageId;
    if (this.getSnapshot().answerElsewhere !== from) this.store.update({ answerElsewhere: from });
  }

  /**
   * Makes the answer shown under `key` the turn in flight, being written (again), and opens its
   * stream. `before`: a Continue's answer as it stood.
   */
  private track(
    key: string,
    before: ChatMessage | null,
    open: (callbacks: TurnCallbacks) => TurnHandle | undefined,
  ): void {
    const turn: Turn = {
      userKey: null,
      assistantKey: key,
      request: null,
      isNewMessage: false,
      before,
      handle: null,
      stopping: false,
      started: false,
      retold: '',
      restore: null,
      versionBase: null,
    };
    this.turn = turn;
    this.pendingText = '';
    this.store.update({
      messages: this.updated(key, (m) => ({
        ...m,
        isStreaming: true,
        status: 'streaming',
        error: null,
      })),
      status: 'streaming',
      error: null,
    });
    const handle = open(this.callbacksFor(turn)) ?? null;
    if (this.turn === turn) turn.handle = handle;
  }

  /** What the transport reports, applied only while `turn` is still the one in flight. */
  private callbacksFor(turn: Turn): TurnCallbacks {
    const live = (): boolean => this.turn === turn;
    return {
      onStart: (start) => {
        if (!live()) return;
        turn.started = true;
        this.accepted(turn);
        const withUser =
          turn.userKey === null
            ? this.getSnapshot().messages
            : this.updated(turn.userKey, (m) => ({ ...m, serverId: start.userMessageId }));
        const withAnswer = updateMessage(withUser, turn.assistantKey, (m) => ({
          ...m,
          serverId: start.assistantMessageId,
        }));
        const base = turn.versionBase;
        this.store.update({
          messages:
            base === null
              ? withAnswer
              : updateMessage(withAnswer, base.key, (m) => ({
                  ...m,
                  versionIds: m.serverId === null ? base.ids : [...base.ids, m.serverId],
                })),
        });
        if (start.prefix !== null) {
          // A continuation: the answer is told again from its text so far, then grows.
          turn.retold = start.prefix;
          this.flushText();
        }
        // After the answer's ids, so that the page's navigation to a new conversation (which
        // renders at once) takes every change of the start into the one commit it makes.
        this.adoptConversation(start.conversationId);
        this.startUnpainted ??= scheduleFrame(() => {
          this.startUnpainted = null;
        });
        this.startInThisTask = true;
        queueMicrotask(() => {
          this.startInThisTask = false;
        });
        if (turn.request !== null) this.announce(turn.request, start);
        else if (turn.before !== null) this.announceContinued(start);
      },
      onText: (text) => {
        if (!live()) return;
        // The answer leaves the queue with its first text, in the frame that shows it.
        this.queueText(text);
      },
      onQueued: (position) => {
        if (!live()) return;
        this.store.update({
          messages: this.updated(turn.assistantKey, (m) =>
            m.isStreaming ? { ...m, queuePosition: position } : m,
          ),
        });
      },
      onComplete: (end) => {
        if (!live()) return;
        this.endAtFrame(() => {
          this.flushText(true);
          this.adoptConversation(end.conversationId);
          const whole = end.answer === null ? null : fromServerMessage(end.answer);
          this.finishTurn(
            turn,
            (m) =>
              whole === null
                ? {
                    ...m,
                    // A continued answer ends as the server stored it, the part before and after.
                    content: end.content ?? m.content,
                    serverId: end.assistantMessageId,
                    isStreaming: false,
                    status: 'complete',
                  }
                : { ...whole, id: m.id },
            whole?.error ?? null,
          );
          this.options.onTurnComplete?.({
            conversationId: end.conversationId,
            onboarding: end.onboarding,
          });
        });
      },
      onError: (error, kept) => {
        if (!live()) return;
        if (error.code === STREAMING_DISABLED && !this.streamingRefused) {
          this.answerWholeInstead(turn);
          return;
        }
        if (turn.isNewMessage && !turn.started && error.refused === true) {
          this.refuseSend(turn, error);
          return;
        }
        if (turn.restore !== null && !turn.started) {
          // The server made no new version (an answer being written, a rate limit): the
          // exchange is as it was, and the reason shows where a refused send's does.
          this.turn = null;
          this.store.update({
            messages: turn.restore,
            status: 'idle',
            error: null,
            sendError: error,
          });
          return;
        }
        this.accepted(turn); // its bubble stays, with the error and Retry
        if (turn.before !== null && !turn.started) {
          // The continuation never started (refused at a rate limit, say): the answer is as it
          // was, and says why.
          const before = turn.before;
          this.finishTurn(turn, () => ({ ...before, error }), error);
          return;
        }
        if (turn.request === null && !turn.started) {
          // We could not follow the answer (the server out of reach, say): that is no failure
          // of the answer, which goes on. It stays as the history stored it.
          this.finishTurn(turn, (m) => ({ ...m, isStreaming: false }), null);
          return;
        }
        this.flushText(true);
        this.finishTurn(
          turn,
          // `kept`: words we were sent were lost in a crash; the stored text is what stands.
          (m) => ({ ...m, content: kept ?? m.content, isStreaming: false, status: 'error', error }),
          error,
        );
      },
      onConnectionChange: (reconnecting) => {
        if (!live()) return;
        this.store.update({
          messages: this.updated(turn.assistantKey, (m) =>
            m.isStreaming ? { ...m, isReconnecting: reconnecting } : m,
          ),
        });
      },
      onCancelled: (content) => {
        if (!live()) return;
        this.accepted(turn);
        if (turn.before !== null && !turn.started && content === null) {
          const before = turn.before; // stopped before it started: nothing changed
          this.finishTurn(turn, () => before, null);
          return;
        }
        this.flushText(true);
        this.finishTurn(
          turn,
          (m) => ({
            ...m,
            content: content ?? m.content,
            isStreaming: false,
            status: 'cancelled',
            error: null,
          }),
          null,
        );
      },
    };
  }

  /** Tells the other tabs, so one showing this conversation follows the answer too. */
  private announce(request: TurnRequest, start: TurnStart): void {
    this.options.channel?.announce({
      type: 'answer-started',
      conversationId: start.conversationId,
      messageId: start.assistantMessageId,
      userMessageId: start.userMessageId,
      question: request.text,
      clientMessageId: request.clientMessageId,
      ...(request.version?.kind === 'edit' ? { replaces: request.version.messageId } : {}),
    });
  }

  /** Tells the other tabs, so one showing this answer follows its continuation too. */
  private announceContinued(start: TurnStart): void {
    this.options.channel?.announce({
      type: 'answer-continued',
      conversationId: start.conversationId,
      messageId: start.assistantMessageId,
    });
  }

  /** The flag was turned off since the config was read: this turn and the next come whole. */
  private answerWholeInstead(turn: Turn): void {
    this.streamingRefused = true;
    if (turn.request === null) {
      // An answer we only followed (it stays as the history stored it), or could not continue
      // (it stays as it was: a Continue needs a stream).
      const { before } = turn;
      this.detachTurn();
      this.elsewhereId = null;
      this.store.update({
        messages: this.updated(turn.assistantKey, (m) => before ?? { ...m, isStreaming: false }),
        status: 'idle',
        isStreamingMode: this.fallback.streams,
        answerElsewhere: null,
      });
      return;
    }
    this.store.update({
      messages: this.updated(turn.assistantKey, (m) => ({
        ...m,
        status: 'pending',
        isStreaming: false,
      })),
      status: 'submitted',
      isStreamingMode: this.fallback.streams,
    });
    this.run(turn, turn.request, this.fallback);
  }

  private finishTurn(
    turn: Turn,
    answer: (message: ChatMessage) => ChatMessage,
    error: ChatError | null,
  ): void {
    this.turn = null;
    this.elsewhereId = null;
    this.forgetFrames();
    this.store.update({
      messages: this.updated(turn.assistantKey, (m) => {
        const ended = answer(m);
        const settled = ended.queuePosition == null ? ended : { ...ended, queuePosition: null };
        return settled.isReconnecting === true ? { ...settled, isReconnecting: false } : settled;
      }),
      status: error === null ? 'idle' : 'error',
      error,
      answerElsewhere: null,
    });
    const isOurs = turn.request !== null || turn.before !== null;
    if (isOurs && turn.started) this.announceEnded(turn);
  }

  /** Tells the other tabs this tab's answer ended, so one that could not follow it may send. */
  private announceEnded(turn: Turn): void {
    const { conversationId, messages } = this.getSnapshot();
    const messageId = messages.find((m) => m.id === turn.assistantKey)?.serverId ?? null;
    if (conversationId === null || messageId === null) return;
    this.options.channel?.announce({ type: 'answer-ended', conversationId, messageId });
  }

  /** Tells the page, once, that a new message stays in the conversation. */
  private accepted(turn: Turn): void {
    if (!turn.isNewMessage || turn.request === null) return;
    turn.isNewMessage = false;
    this.options.onSendAccepted?.(turn.request.text);
  }

  /**
   * The server did not take a new message: its question and answer bubbles go (nothing was
   * stored), and its text goes back to the box with the reason beside it.
   */
  private refuseSend(turn: Turn, error: ChatError): void {
    this.turn = null;
    turn.isNewMessage = false;
    const gone = new Set([turn.userKey, turn.assistantKey]);
    this.store.update({
      messages: this.getSnapshot().messages.filter((m) => !gone.has(m.id)),
      status: 'idle',
      error: null,
      sendError: error,
    });
    if (turn.request !== null) this.options.onSendRefused?.(turn.request.text, error);
  }

  private adoptConversation(conversationId: string): void {
    const current = this.conversationId;
    if (current === conversationId) return;
    this.store.update({ conversationId });
    if (current === null) this.options.onConversationStarted?.(conversationId);
  }

  /**
   * The one way a turn is let go: its transport detached, its unapplied text dropped. An end
   * held for the next frame is applied first: the answer is over, and letting go of it must not
   * lose what its end tells (the stored text, the other tabs, the page).
   */
  private detachTurn(): void {
    const end = this.pendingEnd;
    if (end !== null) {
      this.pendingEnd = null;
      end();
    }
    const turn = this.turn;
    this.turn = null;
    turn?.handle?.detach();
    this.cancelFrame?.();
    this.cancelFrame = null;
    this.pendingText = '';
    this.forgetFrames();
  }

  /** No turn in flight: nothing waits on the frames it was painted in. */
  private forgetFrames(): void {
    this.startUnpainted?.();
    this.startUnpainted = null;
    this.textAtLastFrame?.();
    this.textAtLastFrame = null;
  }

  /**
   * Applies the turn's end now (with any buffered text: one commit), or with the next frame's
   * text when a commit now would be a second one in a frame: text was applied at the last
   * animation frame and no frame has begun since, or the start, applied in an earlier task,
   * waits to be painted at the next frame. Held, the end is applied in the frame callback after
   * that frame's text, one commit for both, at most one frame later. A hidden page gets no
   * frames: it ends at once.
   */
  private endAtFrame(end: () => void): void {
    const hidden = typeof document !== 'undefined' && document.visibilityState === 'hidden';
    const startWaits = this.startUnpainted !== null && !this.startInThisTask;
    if (hidden || (this.textAtLastFrame === null && !startWaits)) {
      end();
      return;
    }
    this.pendingEnd = end;
    this.scheduleFlush();
  }

  private queueText(text: string): void {
    this.pendingText += text;
    this.scheduleFlush();
  }

  /**
   * Asks for the frame that applies the buffered text (and a held end): the next one, or the
   * one after while the start's own commit waits to be painted at the next.
   */
  private scheduleFlush(): void {
    if (this.cancelFrame !== null) return;
    const flush = (): void => {
      this.cancelFrame = null;
      this.flushFrame();
    };
    if (this.startUnpainted === null) {
      this.cancelFrame = scheduleFrame(flush);
      return;
    }
    this.cancelFrame = scheduleFrame(() => {
      this.cancelFrame = scheduleFrame(flush);
    });
  }

  /** A frame's work: its text, then the end held for it; one store update each, one commit. */
  private flushFrame(): void {
    const end = this.pendingEnd;
    this.pendingEnd = null;
    if (end !== null) {
      end(); // applies the buffered text first
      return;
    }
    if (!this.flushText()) return;
    // Until the next frame begins, an end applied at once would share this frame's commit.
    this.textAtLastFrame ??= scheduleFrame(() => {
      this.textAtLastFrame = null;
    });
  }

  /**
   * Applies the buffered text to the answer being written: at most once per frame, and at the
   * end (`ending`), when a retold answer replaces the stored text whatever its length. Says
   * whether the store changed.
   */
  private flushText(ending = false): boolean {
    this.cancelFrame?.();
    this.cancelFrame = null;
    const text = this.pendingText;
    const turn = this.turn;
    this.pendingText = '';
    if (turn === null) return false;
    const stored = this.getSnapshot().messages.find((m) => m.id === turn.assistantKey);
    // Text came: the model writes this answer now, it waits in line no more.
    const inLine = text !== '' && stored?.queuePosition != null;
    const write = (content: (m: ChatMessage) => string): true => {
      this.store.update({
        messages: this.updated(turn.assistantKey, (m) => ({
          ...m,
          content: content(m),
          ...(inLine ? { queuePosition: null } : {}),
        })),
      });
      return true;
    };
    if (turn.retold !== null) {
      const retold = turn.retold + text;
      const caughtUp = retold.length >= (stored?.content.length ?? 0);
      if (!caughtUp && !ending) {
        turn.retold = retold;
        return inLine && write((m) => m.content);
      }
      turn.retold = null;
      // Nothing was retold: the stored text stands.
      if (retold === '') return inLine && write((m) => m.content);
      return write(() => retold);
    }
    if (text === '') return false;
    return write((m) => m.content + text);
  }

  private updated(key: string, update: (message: ChatMessage) => ChatMessage): ChatMessage[] {
    return updateMessage(this.getSnapshot().messages, key, update);
  }
}
