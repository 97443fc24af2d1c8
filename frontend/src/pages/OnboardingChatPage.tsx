// Onboarding: the assistant asks a few questions in a chat; a progress bar shows how far along
// the user is, and when it is complete they go on to the chat page. Skip goes there at once
// (the answers so far are kept, and all of them can be edited later in Settings); Sign out
// leaves, as from the chat.

import { useCallback, useEffect, useState } from 'react';
import { Navigate, useNavigate } from 'react-router';

import { ChatLayout } from '../components/ChatLayout';
import { Composer } from '../components/Composer';
import { FullPageStatus } from '../components/FullPageStatus';
import { MessageList } from '../components/MessageList';
import { OnboardingProgress } from '../components/OnboardingProgress';
import { useAuth } from '../hooks/useAuth';
import { useChat } from '../hooks/useChat';
import type { TurnResult } from '../hooks/useChat';
import { useDraft } from '../hooks/useDraft';
import { useOnboarding } from '../hooks/useOnboarding';
import { ApiError } from '../services/http';
import { skipOnboarding } from '../services/onboardingService';

import styles from './OnboardingChatPage.module.css';

/** How long the "all set" message shows before moving on to the chat. */
export const ONBOARDING_REDIRECT_MS = 2500;
/** The onboarding answer being typed is a draft of its own. */
const ONBOARDING_DRAFT = 'onboarding';

export function OnboardingChatPage() {
  const navigate = useNavigate();
  const { user, config, markOnboardingComplete, logout } = useAuth();
  const { onboarding, error, applyProgress } = useOnboarding();
  const [finished, setFinished] = useState(false);
  const [skipping, setSkipping] = useState(false);
  const [skipError, setSkipError] = useState<string | null>(null);

  const onTurnComplete = useCallback(
    (result: TurnResult) => {
      if (result.onboarding === null) return;
      applyProgress(result.onboarding);
      if (result.onboarding.completed) {
        setFinished(true);
        markOnboardingComplete();
      }
    },
    [applyProgress, markOnboardingComplete],
  );

  const draft = useDraft(user?.id ?? null, ONBOARDING_DRAFT);
  const chat = useChat({
    isOnboarding: true,
    conversationId: onboarding?.conversation_id ?? null,
    streamingEnabled: config?.streaming_enabled ?? false,
    onTurnComplete,
    onSendRefused: draft.restore,
    onSendAccepted: draft.accepted,
  });
  const send = (text: string): boolean => {
    if (!chat.sendMessage(text)) return false;
    draft.sent();
    return true;
  };

  const skip = async () => {
    if (skipping) return;
    setSkipping(true);
    setSkipError(null);
    try {
      await skipOnboarding();
      chat.stop();
      markOnboardingComplete();
      void navigate('/chat', { replace: true });
    } catch (reason) {
      setSkipping(false);
      setSkipError(
        reason instanceof ApiError ? reason.message : 'Could not skip. Please try again.',
      );
    }
  };

  useEffect(() => {
    if (!finished) return;
    const timer = setTimeout(
      () => void navigate('/chat', { replace: true }),
      ONBOARDING_REDIRECT_MS,
    );
    return () => {
      clearTimeout(timer);
    };
  }, [finished, navigate]);

  if (!finished && (user?.onboarding_completed || onboarding?.completed)) {
    return <Navigate to="/chat" replace />;
  }
  if (error !== null) return <FullPageStatus isError>{error}</FullPageStatus>;
  if (onboarding === null) return <FullPageStatus>Preparing your onboarding…</FullPageStatus>;

  return (
    <ChatLayout
      header={
        <div className={styles.header}>
          <h1 className={styles.title}>
            Welcome{user?.display_name ? `, ${user.display_name}` : ''}
          </h1>
          <div className={styles.progress}>
            <OnboardingProgress
              progress={onboarding.progress}
              step={onboarding.current_step}
              steps={onboarding.steps.length}
            />
          </div>
          <div className={styles.actions}>
            {!finished && (
              <button
                type="button"
                className={styles.action}
                onClick={() => void skip()}
                disabled={skipping}
                aria-describedby="onboarding-skip-hint"
              >
                {skipping ? 'Skipping…' : 'Skip for now'}
              </button>
            )}
            <button type="button" className={styles.action} onClick={logout}>
              Sign out
            </button>
          </div>
          <p id="onboarding-skip-hint" className={styles.skipHint}>
            You can change your answers any time in Settings.
          </p>
          {skipError !== null && (
            <p className={styles.skipError} role="alert">
              {skipError}
            </p>
          )}
        </div>
      }
    >
      <MessageList
        label="Onboarding conversation"
        messages={chat.messages}
        onRetry={chat.retryLastMessage}
        hasEarlier={chat.history.hasEarlier}
        isLoadingEarlier={chat.history.isLoadingEarlier}
        onLoadEarlier={() => void chat.loadEarlier()}
        isLoading={chat.history.isLoading}
        loadError={chat.history.error}
      />
      {finished ? (
        <div className={styles.done} role="status">
          <p>
            <strong>You&apos;re all set.</strong> Taking you to your chats…
          </p>
          <button
            type="button"
            className={styles.continue}
            onClick={() => void navigate('/chat', { replace: true })}
          >
            Continue to chat
          </button>
        </div>
      ) : (
        <Composer
          onSend={send}
          value={draft.text}
          onValueChange={draft.setText}
          error={chat.sendError?.message ?? null}
          onStop={chat.stop}
          isBusy={chat.isBusy}
          maxLength={config?.max_message_chars}
          placeholder="Type your answer…"
          label="Your answer"
        />
      )}
    </ChatLayout>
  );
}
