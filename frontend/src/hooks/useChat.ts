// Chat state for one conversation: history, the answer being streamed, stop and retry.
// The same hook drives the onboarding chat and the free chat; only `isOnboarding` differs.
// It is one state machine (a turn, its messages, the history window around them), kept in one
// file on purpose; the pure message helpers live in chatMessages.ts.

import { useCallback, useEffect, useRef, useState } from 'react';

import type { OnboardingProgress } from '../api/types';
import { newId } from '../lib/ids';
import { chatService } from '../services/chatService';
import type { CancelStream, ChatClient } from '../services/chatService';

import type { ChatError, ChatMessage } from './chatMessages';
import {
  failureToChatError,
  fromServerMessage,
  HISTORY_LIMIT,
  keepNewest,
  localMessage,
  oldestServerId,
  prependPage,
  toChatError,
  updateMessage,
} from './chatMessages';
import { scheduleFrame } from './frame';

export type ChatStatus = 'idle' | 'submitted' | 'streaming' | 'error';

export interface TurnResult {
  conversationId: string;
  onboarding: OnboardingProgress | null;
}

export interface UseChatOptions {
  isOnboarding: boolean;
  /** The conversation to show; null or undefined starts a new one on the first send. */
  conversationId?: string | null;
  /** The server's feature flag (GET /config). When false, answers come whole via sendMessage. */
  streamingEnabled?: boolean;
  /** How many messages the state holds; older ones stay on the server. */
  historyLimit?: number;
  client?: ChatClient;
  /** A new conversation got its id from the server (first answer of a new chat). */
  onConversationStarted?: (conversationId: string) => void;
  /** An answer finished; carries the onboarding progress on the onboarding chat. */
  onTurnComplete?: (result: TurnResult) => void;
}

export interface HistoryState {
  isLoading: boolean;
  isLoadingEarlier: boolean;
  hasEarlier: boolean;
  error: string | null;
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
  error: ChatError | null;
  conversationId: string | null;
  history: HistoryState;
  /** Sends a message; returns false when refused (empty, or an answer is still coming). */
  sendMessage: (text: string) => boolean;
  /** Stops the answer in progress, keeping what was written. */
  stop: () => void;
  /**
   * Removes the failed answer and asks the server to answer the last user message again (the
   * same client_message_id with `regenerate`: the question is not stored twice).
   */
  retryLastMessage: () => boolean;
  loadEarlier: () => Promise<void>;
}

/** What a retry reuses: the failed turn's user message and its idempotency key. */
interface Retry {
  userKey: string;
  /** Null only for a message stored without one: it is then sent as a new message. */
  clientMessageId: string | null;
}

interface Turn {
  assistantKey: string;
  userKey: string;
  cancel: CancelStream | null;
  abort: AbortController | null;
}

export function useChat(options: UseChatOptions): UseChat {
  const {
    isOnboarding,
    conversationId: requestedConversationId = null,
    streamingEnabled = true,
    historyLimit = HISTORY_LIMIT,
    client = chatService,
  } = options;

  // Messages and whether older ones exist change together (trimming drops messages).
  const [chat, setChat] = useState<{ messages: ChatMessage[]; hasEarlier: boolean }>({
    messages: [],
    hasEarlier: false,
  });
  const messages = chat.messages;
  const setMessages = useCallback((update: (current: ChatMessage[]) => ChatMessage[]) => {
    setChat((c) => {
      const next = update(c.messages);
      return next === c.messages ? c : { ...c, messages: next };
    });
  }, []);
  const [status, setStatus] = useState<ChatStatus>('idle');
  const [error, setError] = useState<ChatError | null>(null);
  const [conversationId, setConversationId] = useState<string | null>(requestedConversationId);
  const [history, setHistory] = useState<Omit<HistoryState, 'hasEarlier'>>({
    isLoading: requestedConversationId !== null,
    isLoadingEarlier: false,
    error: null,
  });

  // Refs for what callbacks must read synchronously (two sends in one tick, chunks per frame).
  const turnRef = useRef<Turn | null>(null);
  const conversationRef = useRef<string | null>(requestedConversationId);
  const windowRef = useRef(historyLimit);
  const pendingTextRef = useRef('');
  const cancelFrameRef = useRef<(() => void) | null>(null);
  const callbacksRef = useRef(options);
  callbacksRef.current = options;

  // Set when the server refuses a stream with 403 streaming_disabled despite the config.
  const [streamingRefused, setStreamingRefused] = useState(false);
  const isStreamingMode = streamingEnabled && !streamingRefused && client.isStreamingSupported();

  /** Appends, keeping only the newest messages in the window. */
  const appendMessages = useCallback((...added: ChatMessage[]) => {
    setChat((c) => {
      const kept = keepNewest([...c.messages, ...added], windowRef.current);
      return { messages: kept.messages, hasEarlier: c.hasEarlier || kept.dropped };
    });
  }, []);

  /** Applies the buffered chunk text to the streaming message: at most once per frame. */
  const flushChunks = useCallback(() => {
    cancelFrameRef.current?.();
    cancelFrameRef.current = null;
    const text = pendingTextRef.current;
    const turn = turnRef.current;
    pendingTextRef.current = '';
    if (text === '' || turn === null) return;
    setMessages((current) =>
      updateMessage(current, turn.assistantKey, (m) => ({ ...m, content: m.content + text })),
    );
  }, [setMessages]);

  const queueChunk = useCallback(
    (text: string) => {
      pendingTextRef.current += text;
      cancelFrameRef.current ??= scheduleFrame(() => {
        cancelFrameRef.current = null;
        flushChunks();
      });
    },
    [flushChunks],
  );

  const endTurn = useCallback((turn: Turn, nextStatus: ChatStatus, nextError: ChatError | null) => {
    if (turnRef.current !== turn) return;
    turnRef.current = null;
    setStatus(nextStatus);
    setError(nextError);
  }, []);

  const adoptConversation = useCallback((id: string) => {
    if (conversationRef.current === id) return;
    const isNew = conversationRef.current === null;
    conversationRef.current = id;
    setConversationId(id);
    if (isNew) callbacksRef.current.onConversationStarted?.(id);
  }, []);

  const failTurn = useCallback(
    (turn: Turn, chatError: ChatError) => {
      if (turnRef.current !== turn) return;
      flushChunks();
      setMessages((current) =>
        updateMessage(current, turn.assistantKey, (m) => ({
          ...m,
          isStreaming: false,
          status: 'error',
          error: chatError,
        })),
      );
      endTurn(turn, 'error', chatError);
    },
    [endTurn, flushChunks, setMessages],
  );

  /** The non-streaming path: one request, the whole answer at once, a loading indicator meanwhile. */
  const sendWhole = useCallback(
    (turn: Turn, text: string, clientMessageId: string, regenerate: boolean) => {
      const abort = new AbortController();
      turn.abort = abort;
      client
        .sendMessage(text, {
          isOnboarding,
          conversationId: conversationRef.current,
          clientMessageId,
          regenerate,
          signal: abort.signal,
        })
        .then(
          (response) => {
            if (turnRef.current !== turn) return;
            adoptConversation(response.conversation_id);
            const answer = fromServerMessage(response.assistant_message);
            setMessages((current) =>
              updateMessage(
                updateMessage(current, turn.userKey, (m) => ({
                  ...m,
                  serverId: response.user_message.id,
                })),
                turn.assistantKey,
                () => ({ ...answer, id: turn.assistantKey }),
              ),
            );
            endTurn(turn, answer.error ? 'error' : 'idle', answer.error);
            callbacksRef.current.onTurnComplete?.({
              conversationId: response.conversation_id,
              onboarding: response.onboarding,
            });
          },
          (reason: unknown) => {
            if (!abort.signal.aborted) failTurn(turn, toChatError(reason));
          },
        );
    },
    [adoptConversation, client, endTurn, failTurn, isOnboarding, setMessages],
  );

  const startTurn = useCallback(
    (text: string, retry: Retry | null): boolean => {
      if (turnRef.current !== null) return false; // one answer at a time
      const streaming = isStreamingMode && client.fitsInStreamUrl(text, { isOnboarding });
      // A retry repeats the same send (same client_message_id) with `regenerate`, so the
      // server answers the question it already stored instead of storing it again.
      const clientMessageId = retry?.clientMessageId ?? newId();
      const regenerate = retry !== null && retry.clientMessageId !== null;
      const turn: Turn = {
        assistantKey: newId(),
        userKey: retry?.userKey ?? newId(),
        cancel: null,
        abort: null,
      };
      turnRef.current = turn;
      pendingTextRef.current = '';
      const placeholder = localMessage(
        turn.assistantKey,
        'assistant',
        '',
        streaming ? 'streaming' : 'pending',
        streaming,
      );
      if (retry === null) {
        appendMessages(
          localMessage(turn.userKey, 'user', text, 'complete', false, clientMessageId),
          placeholder,
        );
      } else {
        if (retry.clientMessageId === null) {
          // Keep the id this retry uses, so a second retry regenerates instead.
          setMessages((current) =>
            updateMessage(current, turn.userKey, (m) => ({ ...m, clientMessageId })),
          );
        }
        appendMessages(placeholder);
      }
      setStatus(streaming ? 'streaming' : 'submitted');
      setError(null);

      if (streaming) {
        const cancel = client.streamMessage(
          text,
          { isOnboarding, conversationId: conversationRef.current, clientMessageId, regenerate },
          {
            onStart: (event) => {
              if (turnRef.current !== turn) return;
              adoptConversation(event.conversation_id);
              setMessages((current) =>
                updateMessage(
                  updateMessage(current, turn.userKey, (m) => ({
                    ...m,
                    serverId: event.user_message_id,
                  })),
                  turn.assistantKey,
                  (m) => ({ ...m, serverId: event.message_id }),
                ),
              );
            },
            onChunk: (event) => {
              if (turnRef.current === turn) queueChunk(event.content);
            },
            onComplete: (event) => {
              if (turnRef.current !== turn) return;
              flushChunks();
              adoptConversation(event.conversation_id);
              setMessages((current) =>
                updateMessage(current, turn.assistantKey, (m) => ({
                  ...m,
                  serverId: event.message_id,
                  isStreaming: false,
                  status: 'complete',
                })),
              );
              endTurn(turn, 'idle', null);
              callbacksRef.current.onTurnComplete?.({
                conversationId: event.conversation_id,
                onboarding: event.onboarding,
              });
            },
            onError: (failure) => {
              if (failure.code === 'streaming_disabled' && turnRef.current === turn) {
                // The flag was turned off since GET /config: answer this turn whole instead.
                setStreamingRefused(true);
                setMessages((current) =>
                  updateMessage(current, turn.assistantKey, (m) => ({
                    ...m,
                    status: 'pending',
                    isStreaming: false,
                  })),
                );
                setStatus('submitted');
                sendWhole(turn, text, clientMessageId, regenerate);
                return;
              }
              failTurn(turn, failureToChatError(failure));
            },
          },
        );
        if (turnRef.current === turn) turn.cancel = cancel;
        return true;
      }

      sendWhole(turn, text, clientMessageId, regenerate);
      return true;
    },
    [
      adoptConversation,
      appendMessages,
      client,
      endTurn,
      failTurn,
      flushChunks,
      isOnboarding,
      isStreamingMode,
      queueChunk,
      sendWhole,
      setMessages,
    ],
  );

  const sendMessage = useCallback(
    (text: string): boolean => {
      if (text.trim() === '') return false;
      return startTurn(text, null);
    },
    [startTurn],
  );

  const stop = useCallback(() => {
    const turn = turnRef.current;
    if (turn === null) return;
    turn.cancel?.();
    turn.abort?.abort();
    flushChunks();
    setMessages((current) =>
      updateMessage(current, turn.assistantKey, (m) => ({
        ...m,
        isStreaming: false,
        status: 'cancelled',
      })),
    );
    endTurn(turn, 'idle', null);
  }, [endTurn, flushChunks, setMessages]);

  const messagesRef = useRef(messages);
  messagesRef.current = messages;

  const retryLastMessage = useCallback((): boolean => {
    if (turnRef.current !== null) return false;
    const current = messagesRef.current;
    let userIndex = -1;
    for (let i = current.length - 1; i >= 0; i -= 1) {
      if (current[i]?.role === 'user') {
        userIndex = i;
        break;
      }
    }
    const user = current[userIndex];
    if (user === undefined) return false;
    const failedKeys = new Set(
      current.slice(userIndex + 1).flatMap((m) => (m.role === 'assistant' ? [m.id] : [])),
    );
    setMessages((list) => list.filter((m) => !failedKeys.has(m.id)));
    return startTurn(user.content, { userKey: user.id, clientMessageId: user.clientMessageId });
  }, [setMessages, startTurn]);

  // Load the conversation when it changes, unless it is the one this hook just started.
  useEffect(() => {
    if (requestedConversationId !== null && requestedConversationId === conversationRef.current) {
      if (turnRef.current !== null || messagesRef.current.length > 0) return;
    }
    // Switching conversations stops the answer of the one we leave.
    const turn = turnRef.current;
    if (turn !== null) {
      turn.cancel?.();
      turn.abort?.abort();
      turnRef.current = null;
    }
    cancelFrameRef.current?.();
    cancelFrameRef.current = null;
    pendingTextRef.current = '';
    conversationRef.current = requestedConversationId;
    windowRef.current = historyLimit;
    setConversationId(requestedConversationId);
    setChat({ messages: [], hasEarlier: false });
    setStatus('idle');
    setError(null);
    if (requestedConversationId === null) {
      setHistory({ isLoading: false, isLoadingEarlier: false, error: null });
      return;
    }
    setHistory({ isLoading: true, isLoadingEarlier: false, error: null });
    const abort = new AbortController();
    client.listMessages(requestedConversationId, { limit: historyLimit }, abort.signal).then(
      (page) => {
        if (abort.signal.aborted) return;
        setChat((c) => {
          const all = prependPage(c.messages, page.items.map(fromServerMessage));
          const kept = keepNewest(all, windowRef.current);
          return { messages: kept.messages, hasEarlier: page.has_more || kept.dropped };
        });
        setHistory({ isLoading: false, isLoadingEarlier: false, error: null });
      },
      (reason: unknown) => {
        if (abort.signal.aborted) return;
        setHistory({
          isLoading: false,
          isLoadingEarlier: false,
          error: toChatError(reason).message,
        });
      },
    );
    return () => {
      abort.abort();
    };
  }, [client, historyLimit, requestedConversationId]);

  const loadEarlier = useCallback(async () => {
    const id = conversationRef.current;
    const before = oldestServerId(messagesRef.current);
    if (id === null || before === null) return;
    setHistory((h) => ({ ...h, isLoadingEarlier: true, error: null }));
    try {
      const page = await client.listMessages(id, { before, limit: historyLimit });
      if (conversationRef.current !== id) return;
      // The user asked for these: widen the window so the next answer does not drop them.
      windowRef.current += page.items.length;
      setChat((c) => ({
        messages: prependPage(c.messages, page.items.map(fromServerMessage)),
        hasEarlier: page.has_more,
      }));
      setHistory((h) => ({ ...h, isLoadingEarlier: false }));
    } catch (reason) {
      setHistory((h) => ({ ...h, isLoadingEarlier: false, error: toChatError(reason).message }));
    }
  }, [client, historyLimit]);

  // Leaving the page stops the answer: close the stream and cancel it on the server.
  useEffect(
    () => () => {
      const turn = turnRef.current;
      turnRef.current = null;
      turn?.cancel?.();
      turn?.abort?.abort();
      cancelFrameRef.current?.();
      cancelFrameRef.current = null;
    },
    [],
  );

  return {
    messages,
    status,
    isStreaming: status === 'streaming',
    isBusy: status === 'streaming' || status === 'submitted',
    isStreamingMode,
    error,
    conversationId,
    history: { ...history, hasEarlier: chat.hasEarlier },
    sendMessage,
    stop,
    retryLastMessage,
    loadEarlier,
  };
}
