// Chat state for one conversation, bound to React: a ChatSession (src/chat/) read through
// useSyncExternalStore, its transport chosen from the server's streaming flag, its history
// paged by useMessageHistory, answers started in other tabs followed through an AnswerChannel.
// The same hook drives the onboarding chat and the free chat.

import { useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';

import { ChatSession } from '../chat/ChatSession';
import type { AnswerElsewhere, ChatStatus, TurnResult } from '../chat/ChatSession';
import type { ChatError, ChatMessage } from '../chat/messages';
import { StreamingTransport, WholeAnswerTransport } from '../chat/transport';
import { selectFields } from '../lib/store';
import { openAnswerChannel } from '../services/answerChannel';
import type { AnswerChannel } from '../services/answerChannel';
import { chatService } from '../services/chatService';
import type { ChatClient } from '../services/chatService';

import { useMessageHistory } from './useMessageHistory';
import type { HistoryState } from './useMessageHistory';

export type { AnswerElsewhere, ChatStatus, TurnResult } from '../chat/ChatSession';
export type { HistoryState } from './useMessageHistory';

export interface UseChatOptions {
  /** Read once, on the first render, like `client` and `historyLimit`. */
  isOnboarding: boolean;
  /** The conversation to show; null or undefined starts a new one on the first send. */
  conversationId?: string | null;
  /** The server's feature flag (GET /config). When false, answers come whole via sendMessage. */
  streamingEnabled?: boolean;
  /** How many messages the state holds; older ones stay on the server. */
  historyLimit?: number;
  client?: ChatClient;
  /** Word between this browser's tabs that an answer started; a BroadcastChannel by default. */
  channel?: AnswerChannel;
  /** A new conversation got its id from the server (first answer of a new chat). */
  onConversationStarted?: (conversationId: string) => void;
  /** An answer finished; carries the onboarding progress on the onboarding chat. */
  onTurnComplete?: (result: TurnResult) => void;
  /** A new message the server did not take: put `text` back in the box (see sendError). */
  onSendRefused?: (text: string) => void;
  /** A new message stays in the conversation (its answer started, or failed with Retry). */
  onSendAccepted?: (text: string) => void;
}

export interface UseChat {
  messages: ChatMessage[];
  status: ChatStatus;
  /** Answer text is arriving. */
  isStreaming: boolean;
  /** A send is in flight (streaming or waiting for the whole answer): a new send is refused. */
  isBusy: boolean;
  /** Whether answers stream (false: the feature flag is off or EventSource is missing). */
  isStreamingMode: boolean;
  /**
   * An answer this tab did not ask for is being written in the conversation (another tab's, or
   * one found on opening): sends wait until it ends.
   */
  answerElsewhere: AnswerElsewhere | null;
  error: ChatError | null;
  /** Why the last send was refused before the server took it; its text went to onSendRefused. */
  sendError: ChatError | null;
  conversationId: string | null;
  history: HistoryState;
  /** Sends a message; returns false when refused (empty, or an answer is still coming). */
  sendMessage: (text: string) => boolean;
  /** Stops the answer in progress on the server (in every tab), keeping what was written. */
  stop: () => void;
  /**
   * Removes the failed answer and asks the server to answer the last user message again (the
   * same client_message_id with `regenerate`: the question is not stored twice).
   */
  retryLastMessage: () => boolean;
  /**
   * Whether a stopped or interrupted answer can be continued here: answers stream (Continue is
   * a stream) and this is the free chat (an onboarding answer is retried instead).
   */
  canContinue: boolean;
  /** Continues the last answer where it stopped, in the same message (docs/api.md, "Continue"). */
  continueLastAnswer: () => boolean;
  /**
   * Whether the latest exchange can get new versions here (regenerate, edit & resend): answers
   * stream and this is the free chat (docs/api.md, "Versions").
   */
  canMakeVersions: boolean;
  /** Another answer to the last question; the last answer stays a version. */
  regenerateLastAnswer: () => boolean;
  /** Sends `text` as a new version of the last question; the earlier one stays a version. */
  editLastMessage: (text: string) => boolean;
  /** Shows version `versionId` of the message shown under `key` (and gives it to the model). */
  chooseVersion: (key: string, versionId: string) => void;
  loadEarlier: () => Promise<void>;
}

/**
 * The messages, apart from everything else: read with useChatMessages by the part of the page
 * that shows them, so the text of an answer being written re-renders that part alone.
 */
export interface MessageFeed {
  subscribe: (listener: () => void) => () => void;
  getMessages: () => ChatMessage[];
}

/** useChat without the messages (which `feed` gives): what streamed text never changes. */
export type ChatControls = Omit<UseChat, 'messages'> & { feed: MessageFeed };

/** The snapshot's fields the page shows; an answer's text changes none of them. */
const CONTROL_FIELDS = [
  'status',
  'error',
  'sendError',
  'conversationId',
  'isStreamingMode',
  'answerElsewhere',
] as const;

/** The messages of a chat (see MessageFeed); renders on every change to them. */
export function useChatMessages(feed: MessageFeed): ChatMessage[] {
  return useSyncExternalStore(feed.subscribe, feed.getMessages);
}

/** A chat and its messages, for a page that renders them itself. */
export function useChat(options: UseChatOptions): UseChat {
  const controls = useChatControls(options);
  const messages = useChatMessages(controls.feed);
  return { ...controls, messages };
}

/**
 * A chat without its messages: the component that calls it renders again when the turn's
 * state changes (it starts, ends, fails), not for each frame of streamed text. The messages
 * are read from `feed` by a component of their own (useChatMessages).
 */
export function useChatControls(options: UseChatOptions): ChatControls {
  const { conversationId = null, streamingEnabled = true, client = chatService } = options;

  // The page's latest callbacks, read when the session reports (never a stale closure).
  const handlers = useRef(options);
  useLayoutEffect(() => {
    handlers.current = options;
  });

  const [channel] = useState(() => options.channel ?? openAnswerChannel());
  const [transports] = useState(() => ({
    streaming: new StreamingTransport(client),
    whole: new WholeAnswerTransport(client),
  }));
  const transport =
    streamingEnabled && client.isStreamingSupported() ? transports.streaming : transports.whole;

  const [session] = useState(
    () =>
      new ChatSession({
        isOnboarding: options.isOnboarding,
        conversationId,
        transport,
        fallback: transports.whole,
        historyLimit: options.historyLimit,
        onConversationStarted: (id) => handlers.current.onConversationStarted?.(id),
        onTurnComplete: (result) => handlers.current.onTurnComplete?.(result),
        onSendRefused: (text) => handlers.current.onSendRefused?.(text),
        onSendAccepted: (text) => handlers.current.onSendAccepted?.(text),
        chooseVersion: (messageId) => client.chooseVersion(messageId),
        channel,
      }),
  );

  useLayoutEffect(() => {
    session.setTransport(transport);
  }, [session, transport]);

  // Leaving the page lets go of the answer (it goes on on the server; coming back follows it).
  useEffect(
    () => () => {
      session.abandon();
    },
    [session],
  );

  useEffect(() => session.watchOtherTabs(), [session]);

  const [readControls] = useState(() => selectFields(session.getSnapshot, CONTROL_FIELDS));
  const snapshot = useSyncExternalStore(session.subscribe, readControls);
  const [feed] = useState<MessageFeed>(() => ({
    subscribe: session.subscribe,
    getMessages: () => session.getSnapshot().messages,
  }));
  const { history, loadEarlier } = useMessageHistory(session, client, conversationId);
  const actions = useMemo(
    () => ({
      sendMessage: (text: string) => session.send(text),
      stop: () => {
        session.stop();
      },
      retryLastMessage: () => session.retryLastMessage(),
      continueLastAnswer: () => session.continueLastAnswer(),
      regenerateLastAnswer: () => session.regenerateLastAnswer(),
      editLastMessage: (text: string) => session.editLastMessage(text),
      chooseVersion: (key: string, versionId: string) => {
        void session.showVersion(key, versionId);
      },
    }),
    [session],
  );

  const { status } = snapshot;
  return {
    feed,
    status,
    isStreaming: status === 'streaming',
    isBusy: status === 'streaming' || status === 'submitted',
    isStreamingMode: snapshot.isStreamingMode,
    answerElsewhere: snapshot.answerElsewhere,
    canContinue: snapshot.isStreamingMode && !session.isOnboarding,
    canMakeVersions: snapshot.isStreamingMode && !session.isOnboarding,
    error: snapshot.error,
    sendError: snapshot.sendError,
    conversationId: snapshot.conversationId,
    history,
    loadEarlier,
    ...actions,
  };
}
