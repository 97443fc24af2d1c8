// The chat: the user's conversations on the side, the selected one (or a new one) in the middle.
// While an answer streams, its text re-renders the message list alone (LiveMessageList reads
// the messages; the page reads the rest of the chat), never the page, its sidebar or its box.

import { useCallback } from 'react';
import { flushSync } from 'react-dom';
import { Navigate, useNavigate, useParams } from 'react-router';

import { ChatLayout } from '../components/ChatLayout';
import { Composer } from '../components/Composer';
import { ConversationSidebar } from '../components/ConversationSidebar';
import { SparkleIcon } from '../components/Icons';
import { MessageList } from '../components/MessageList';
import type { MessageListProps } from '../components/MessageList';
import { useAuth } from '../hooks/useAuth';
import { useChatControls, useChatMessages } from '../hooks/useChat';
import type { AnswerElsewhere, MessageFeed } from '../hooks/useChat';
import { useConversations } from '../hooks/useConversations';
import { useCurrentConversation } from '../hooks/useCurrentConversation';
import { useDocumentTitle } from '../hooks/useDocumentTitle';
import { useDraft } from '../hooks/useDraft';
import { conversationTitle } from '../lib/conversationGroups';

import styles from './ChatPage.module.css';

/** Why the box's Send waits, by where the answer being written came from. */
const HELD_REASONS: Record<AnswerElsewhere, string> = {
  'another-tab': 'An answer is still being written in another tab. You can send once it ends.',
  'on-opening': 'An answer is still being written here. You can send once it ends.',
};

/** The message list, reading the messages itself: the one part that renders per frame of text. */
function LiveMessageList({
  feed,
  ...props
}: Omit<MessageListProps, 'messages'> & { feed: MessageFeed }) {
  const messages = useChatMessages(feed);
  return <MessageList messages={messages} {...props} />;
}

export function ChatPage() {
  const { conversationId = null } = useParams();
  const navigate = useNavigate();
  const { user, config, logout } = useAuth();
  const {
    conversations,
    isLoading,
    error,
    hasMore,
    isLoadingMore,
    moreError,
    refresh,
    loadMore,
    rename,
    remove,
  } = useConversations();

  const onConversationStarted = useCallback(
    (id: string) => {
      // Rendered at once with the session's own changes of the start (the answer's ids, the
      // conversation's id), which are waiting for the same render: one commit for the start,
      // not a second one for the new address in the frame that shows the first text.
      flushSync(() => {
        void navigate(`/chat/${id}`, { replace: true });
      });
      refresh();
    },
    [navigate, refresh],
  );

  // What is typed is kept per conversation (a reload, or signing in again, finds it), and a
  // send the server did not take comes back to the box.
  const draft = useDraft(user?.id ?? null, conversationId);
  const chat = useChatControls({
    isOnboarding: false,
    conversationId,
    streamingEnabled: config?.streaming_enabled ?? false,
    onConversationStarted,
    onTurnComplete: refresh,
    onSendRefused: draft.restore,
    onSendAccepted: draft.accepted,
  });
  const send = (text: string): boolean => {
    if (!chat.sendMessage(text)) return false;
    draft.sent();
    return true;
  };

  const open = useCurrentConversation(chat.conversationId, conversations, isLoading);
  const current = open.conversation;
  // No loaded page holds it (opened by its address, or from a search hit deep in the history):
  // the sidebar shows it apart, with its Rename and Delete, until a page brings it.
  const unlisted = open.isListed ? undefined : current;
  const title =
    chat.conversationId === null
      ? 'New chat'
      : current
        ? conversationTitle(current)
        : 'Conversation';
  useDocumentTitle(title);

  const { reload: reloadOpen } = open;
  const renameConversation = useCallback(
    async (id: string, newTitle: string) => {
      await rename(id, newTitle);
      if (id === unlisted?.id) reloadOpen(); // the list could not retitle what it does not hold
    },
    [rename, unlisted?.id, reloadOpen],
  );

  const deleteConversation = useCallback(
    async (id: string) => {
      await remove(id);
      if (id === chat.conversationId) void navigate('/chat', { replace: true });
    },
    [remove, chat.conversationId, navigate],
  );

  const activeId = chat.conversationId;
  const userLabel = user?.display_name ?? user?.email ?? '';
  const sidebar = useCallback(
    (close: () => void) => (
      <ConversationSidebar
        conversations={conversations}
        isLoading={isLoading}
        error={error}
        activeId={activeId}
        userLabel={userLabel}
        onNewChat={() => {
          close();
          void navigate('/chat');
        }}
        onNavigate={close}
        onLogout={logout}
        onRename={renameConversation}
        onDelete={deleteConversation}
        openConversation={unlisted}
        hasMore={hasMore}
        isLoadingMore={isLoadingMore}
        moreError={moreError}
        onLoadMore={loadMore}
      />
    ),
    [
      hasMore,
      isLoadingMore,
      moreError,
      loadMore,
      conversations,
      isLoading,
      error,
      activeId,
      userLabel,
      navigate,
      logout,
      renameConversation,
      deleteConversation,
      unlisted,
    ],
  );

  if (user && !user.onboarding_completed) return <Navigate to="/onboarding" replace />;

  // The onboarding conversation can be read here; its questions are answered on /onboarding.
  const isReadOnly = current?.kind === 'onboarding';

  return (
    <ChatLayout
      viewKey={conversationId ?? 'new'}
      sidebar={sidebar}
      header={
        <div className={styles.header}>
          <h1 className={styles.title}>{title}</h1>
          {!chat.isStreamingMode && (
            <span className={styles.badge} title="Answers arrive whole instead of word by word">
              Streaming off
            </span>
          )}
        </div>
      }
    >
      <LiveMessageList
        feed={chat.feed}
        onRetry={chat.retryLastMessage}
        onContinue={chat.canContinue ? chat.continueLastAnswer : undefined}
        onRegenerate={chat.canMakeVersions && !isReadOnly ? chat.regenerateLastAnswer : undefined}
        onEdit={chat.canMakeVersions && !isReadOnly ? chat.editLastMessage : undefined}
        onChooseVersion={chat.chooseVersion}
        hasEarlier={chat.history.hasEarlier}
        isLoadingEarlier={chat.history.isLoadingEarlier}
        onLoadEarlier={() => void chat.loadEarlier()}
        isLoading={chat.history.isLoading}
        loadError={chat.history.error}
        emptyState={
          <div className={styles.empty}>
            <span className={styles.emptyLogo}>
              <SparkleIcon size={24} />
            </span>
            <h2>How can I help you today?</h2>
            <p>Ask anything. Answers appear as they are written; press Esc to stop one.</p>
          </div>
        }
      />
      {isReadOnly ? (
        <p className={styles.readOnly}>
          This is the conversation you had while setting up. It is kept here to read.
        </p>
      ) : (
        <Composer
          onSend={send}
          value={draft.text}
          onValueChange={draft.setText}
          error={chat.sendError?.message ?? null}
          onStop={chat.stop}
          isBusy={chat.isBusy}
          heldReason={chat.answerElsewhere === null ? null : HELD_REASONS[chat.answerElsewhere]}
          maxLength={config?.max_message_chars}
        />
      )}
    </ChatLayout>
  );
}
