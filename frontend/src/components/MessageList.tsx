// The conversation: messages as a log, the answer being written with a typing cursor, errors
// with Retry, Continue for an answer that stopped part way, Regenerate and Edit on the latest
// exchange with `< 1/2 >` to flip between versions, earlier history from the server (by
// the button or by scrolling to the top, the reader's place kept), and scroll that follows the
// newest text without ever dragging back a reader who scrolled up.

import { memo, useEffect, useMemo, useRef, useState } from 'react';
import type { ReactNode } from 'react';

import type { ChatMessage } from '../chat/messages';
import { isContinuable, versionPosition } from '../chat/messages';
import { useEarlierMessages } from '../hooks/useEarlierMessages';
import { useStickToBottom } from '../hooks/useStickToBottom';
import { markdownToPlainText, truncateAtWord } from '../lib/plainText';

import { AnswerStatus } from './AnswerStatus';
import { SparkleIcon } from './Icons';
import { Markdown } from './Markdown';
import { MessageActions } from './MessageActions';
import { MessageEditor } from './MessageEditor';
import styles from './MessageList.module.css';
import { RetryButton } from './RetryButton';
import { VersionSwitcher } from './VersionSwitcher';

export interface MessageListProps {
  messages: ChatMessage[];
  /** Wired to useChat's retryLastMessage; the Retry button shows on the last failed answer. */
  onRetry?: () => void;
  /**
   * Wired to useChat's continueLastAnswer where answers can be continued; the Continue button
   * shows on the last answer when it stopped or was interrupted part way.
   */
  onContinue?: () => void;
  /**
   * Wired to useChat's regenerateLastAnswer where versions can be made: Regenerate shows on
   * the last answer once it has ended, whatever its status.
   */
  onRegenerate?: () => void;
  /** Wired to useChat's editLastMessage: Edit shows on the last question; true when sent. */
  onEdit?: (text: string) => boolean;
  /** Wired to useChat's chooseVersion: `< 1/2 >` flips a message's versions (absent: shown only). */
  onChooseVersion?: (key: string, versionId: string) => void;
  hasEarlier?: boolean;
  isLoadingEarlier?: boolean;
  onLoadEarlier?: () => void;
  isLoading?: boolean;
  loadError?: string | null;
  emptyState?: ReactNode;
  label?: string;
}

const STATUS_NOTES: Partial<Record<ChatMessage['status'], string>> = {
  cancelled: 'Stopped',
  interrupted: 'Interrupted before it finished',
  streaming: 'Still being written',
};

/** Enough to know what the answer says; the rest is read in the log. */
const ANNOUNCE_MAX_CHARS = 300;

/** The answer as a screen reader should say it: its words, no markdown symbols. */
function spokenAnswer(markdown: string): string {
  return truncateAtWord(markdownToPlainText(markdown), ANNOUNCE_MAX_CHARS);
}

/** Whether the answers among `messages` started or ended since `before` (their statuses). */
function announcementFor(
  messages: ChatMessage[],
  before: ReadonlyMap<string, ChatMessage['status']>,
): string | null {
  let next: string | null = null;
  for (const message of messages) {
    if (message.role !== 'assistant') continue;
    const was = before.get(message.id);
    if (was === undefined) {
      if (message.isStreaming) next = 'Assistant is typing…';
      else if (message.status === 'pending') next = 'Assistant is thinking…';
    } else if (message.isStreaming && was !== 'streaming') {
      next = 'Assistant is continuing…'; // a Continue: the same message is written on
    } else if ((was === 'streaming' || was === 'pending') && message.status !== was) {
      if (message.status === 'complete') {
        next = `Assistant replied: ${spokenAnswer(message.content)}`;
      } else if (message.status === 'cancelled') {
        next = 'Answer stopped.';
      }
    }
  }
  return next;
}

/**
 * What the polite status region says. It speaks when an answer starts and when it ends, never
 * per token: the log itself is aria-busy while text streams in. Worked out while rendering,
 * against the statuses of the last commit (kept by an effect, never during a render), so an
 * answer's end is one commit: no state set afterwards for what is said of it, which would be
 * a second commit in the same frame.
 */
function useAnnouncement(messages: ChatMessage[]): string {
  const committed = useRef<{
    statuses: ReadonlyMap<string, ChatMessage['status']>;
    announcement: string;
  }>({ statuses: new Map(), announcement: '' });
  const announcement =
    announcementFor(messages, committed.current.statuses) ?? committed.current.announcement;
  useEffect(() => {
    committed.current = {
      statuses: new Map(messages.map((m) => [m.id, m.status])),
      announcement,
    };
  }, [messages, announcement]);
  return announcement;
}

interface MessageItemProps {
  message: ChatMessage;
  onRetry: (() => void) | undefined;
  onContinue: (() => void) | undefined;
  onRegenerate: (() => void) | undefined;
  onEdit: ((text: string) => boolean) | undefined;
  onChooseVersion: ((key: string, versionId: string) => void) | undefined;
}

const MessageItem = memo(function MessageItem({
  message,
  onRetry,
  onContinue,
  onRegenerate,
  onEdit,
  onChooseVersion,
}: MessageItemProps) {
  const { role, isStreaming, status, error } = message;
  const [isEditing, setIsEditing] = useState(false);
  const position = versionPosition(message);
  const what = role === 'user' ? 'message' : 'answer';
  const switcher = position && (
    <VersionSwitcher
      index={position.index}
      count={position.count}
      what={what}
      onShow={
        onChooseVersion &&
        ((index: number) => {
          const versionId = message.versionIds[index - 1];
          if (versionId !== undefined) onChooseVersion(message.id, versionId);
        })
      }
    />
  );
  const hasEnded = !isStreaming && status !== 'pending';
  const isPending = status === 'pending';
  const note = isStreaming || error ? undefined : STATUS_NOTES[status];
  const className = [
    styles.message,
    role === 'user' ? styles.user : styles.assistant,
    isStreaming ? styles.streaming : styles.final,
    error ? styles.failed : '',
  ]
    .filter(Boolean)
    .join(' ');

  return (
    <article
      className={className}
      data-role={role}
      data-status={status}
      data-streaming={isStreaming ? 'true' : 'false'}
      data-testid="message"
      data-message-id={message.id}
    >
      <span className="sr-only">{role === 'user' ? 'You said:' : 'Assistant said:'}</span>
      {role === 'assistant' && (
        <span className={styles.avatar}>
          <SparkleIcon size={14} />
        </span>
      )}
      <div className={styles.bubble}>
        {role === 'user' ? (
          isEditing && onEdit ? (
            <MessageEditor
              initialText={message.content}
              onSend={(text) => {
                if (onEdit(text)) setIsEditing(false);
              }}
              onCancel={() => setIsEditing(false)}
            />
          ) : (
            <p className={styles.userText} data-testid="message-text">
              {message.content}
            </p>
          )
        ) : (
          message.content !== '' && (
            <Markdown
              text={message.content}
              isStreaming={isStreaming}
              isComplete={status === 'complete'}
            />
          )
        )}
        {isStreaming &&
          (message.content === '' ? (
            <span
              role="img"
              aria-label="Assistant is typing"
              className={styles.dots}
              data-testid="typing-indicator"
            >
              <span />
            </span>
          ) : (
            <span
              role="img"
              aria-label="Assistant is typing"
              className={styles.cursor}
              data-testid="typing-indicator"
            />
          ))}
        {isPending && (
          <span
            role="img"
            aria-label="Assistant is thinking"
            className={styles.dots}
            data-testid="loading-indicator"
          >
            <span />
          </span>
        )}
        {note !== undefined && <p className={styles.note}>{note}</p>}
        {role === 'user' && !isEditing && (switcher || onEdit) && (
          <div className={styles.questionActions}>
            {switcher}
            {onEdit && (
              <button
                type="button"
                className={styles.edit}
                onClick={() => setIsEditing(true)}
                title="Change this message and ask again; this version is kept"
              >
                Edit<span className="sr-only"> message</span>
              </button>
            )}
          </div>
        )}
        {role === 'assistant' &&
          hasEnded &&
          ((status === 'complete' && message.content !== '') || onRegenerate || switcher) && (
            <div className={styles.answerActions}>
              {switcher}
              <MessageActions
                markdown={status === 'complete' ? message.content : ''}
                onRegenerate={onRegenerate}
              />
            </div>
          )}
        {error && (
          <div className={styles.error} role="alert">
            <p>{error.message}</p>
            {onRetry && error.retryable && (
              <RetryButton error={error} onRetry={onRetry} className={styles.retry} />
            )}
            {onContinue && <ContinueButton onContinue={onContinue} className={styles.retry} />}
          </div>
        )}
        {!error && onContinue && (
          <div className={styles.actions}>
            <ContinueButton onContinue={onContinue} className={styles.action} />
          </div>
        )}
      </div>
    </article>
  );
});

function ContinueButton({
  onContinue,
  className,
}: {
  onContinue: () => void;
  className: string | undefined;
}) {
  return (
    <button
      type="button"
      className={className}
      onClick={onContinue}
      title="Write the rest of this answer, after the text so far"
    >
      Continue
    </button>
  );
}

export function MessageList({
  messages,
  onRetry,
  onContinue,
  onRegenerate,
  onEdit,
  onChooseVersion,
  hasEarlier = false,
  isLoadingEarlier = false,
  onLoadEarlier,
  isLoading = false,
  loadError = null,
  emptyState,
  label = 'Conversation',
}: MessageListProps) {
  const last = messages.at(-1);
  const isBusy = messages.some((m) => m.isStreaming || m.status === 'pending');
  const lastUserId = messages.findLast((m) => m.role === 'user')?.id ?? null;
  const contentKey = `${messages.length}:${last?.id ?? ''}:${last?.content.length ?? 0}:${last?.status ?? ''}`;
  const { ref, isAtBottom, onScroll, jumpToLatest } = useStickToBottom<HTMLDivElement>(
    contentKey,
    lastUserId,
  );
  const announcement = useAnnouncement(messages);
  const messageIds = useMemo(() => messages.map((m) => m.id), [messages]);
  const earlier = useEarlierMessages({
    scrollerRef: ref,
    messageIds,
    hasEarlier,
    isLoading,
    isLoadingEarlier,
    hasError: loadError !== null,
    onLoadEarlier,
  });
  const lastFailedId = last?.role === 'assistant' && last.error ? last.id : null;
  const continuableId = onContinue && last !== undefined && isContinuable(last) ? last.id : null;
  // New versions only of the latest exchange, never while an answer is on its way.
  const lastAnswer = last?.role === 'assistant' && last.serverId !== null ? last : undefined;
  const regenerableId = onRegenerate && !isBusy ? (lastAnswer?.id ?? null) : null;
  const lastUser = messages.findLast((m) => m.role === 'user');
  const editableId = onEdit && !isBusy && lastUser?.serverId ? lastUser.id : null;
  const chooseVersion = isBusy ? undefined : onChooseVersion;

  return (
    <div className={styles.container}>
      <div
        ref={ref}
        className={styles.scroller}
        onScroll={() => {
          onScroll();
          earlier.onScroll();
        }}
        tabIndex={0}
        aria-label="Messages"
        role="region"
      >
        <div className={styles.inner}>
          {hasEarlier && onLoadEarlier && (
            <button
              ref={earlier.buttonRef}
              type="button"
              className={styles.loadEarlier}
              onClick={earlier.loadEarlier}
              aria-disabled={isLoadingEarlier}
            >
              {isLoadingEarlier ? 'Loading…' : 'Load earlier messages'}
            </button>
          )}
          {isLoading && (
            <p className={styles.placeholder} role="status">
              Loading conversation…
            </p>
          )}
          {loadError !== null && (
            <p className={styles.loadError} role="alert">
              {loadError}
            </p>
          )}
          {!isLoading && messages.length === 0 && emptyState}
          {/* The answers' own headings start at <h3> (lib/markdown.ts): they sit under this one,
              which also lets a screen reader jump to the conversation. */}
          <h2 className="sr-only">{label}</h2>
          <div
            role="log"
            aria-label={label}
            aria-live="polite"
            aria-relevant="additions"
            aria-busy={isBusy}
            className={styles.log}
          >
            {messages.map((message) => (
              <MessageItem
                key={message.id}
                message={message}
                onRetry={message.id === lastFailedId ? onRetry : undefined}
                onContinue={message.id === continuableId ? onContinue : undefined}
                onRegenerate={message.id === regenerableId ? onRegenerate : undefined}
                onEdit={message.id === editableId ? onEdit : undefined}
                onChooseVersion={chooseVersion}
              />
            ))}
          </div>
          <AnswerStatus message={last} />
        </div>
      </div>
      {!isAtBottom && (
        <button type="button" className={styles.jump} onClick={jumpToLatest}>
          Jump to latest
          <span aria-hidden="true"> ↓</span>
        </button>
      )}
      <div role="status" aria-live="polite" aria-atomic="true" className="sr-only">
        {announcement}
      </div>
      <div role="status" aria-live="polite" aria-atomic="true" className="sr-only">
        {earlier.announcement}
      </div>
    </div>
  );
}
