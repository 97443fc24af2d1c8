// Settings: the user sees and edits their display name and their onboarding answers, which
// shape the assistant's system prompt from the next answer on.

import { useEffect, useState } from 'react';
import { Link } from 'react-router';

import type { OnboardingAnswer } from '../api/types';
import { FullPageStatus } from '../components/FullPageStatus';
import { SettingsForm } from '../components/SettingsForm';
import { ThemeToggle } from '../components/ThemeToggle';
import { useAuth } from '../hooks/useAuth';
import { useDocumentTitle } from '../hooks/useDocumentTitle';
import { answersToSave, oneLine } from '../lib/profileForm';
import type { ProfileValues } from '../lib/profileForm';
import { ApiError } from '../services/http';
import {
  getOnboardingAnswers,
  saveOnboardingAnswers,
  updateProfile,
} from '../services/profileService';

import styles from './SettingsPage.module.css';

export function SettingsPage() {
  const { user, profileSaved } = useAuth();
  const [answers, setAnswers] = useState<OnboardingAnswer[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  useDocumentTitle('Settings');

  useEffect(() => {
    const abort = new AbortController();
    getOnboardingAnswers(abort.signal).then(
      (loaded) => {
        setAnswers(loaded.items);
      },
      (reason: unknown) => {
        if (abort.signal.aborted) return;
        setLoadError(reason instanceof ApiError ? reason.message : 'Could not load your settings.');
      },
    );
    return () => {
      abort.abort();
    };
  }, []);

  const save = async (values: ProfileValues) => {
    const name = oneLine(values.displayName);
    if (name !== user?.display_name) profileSaved(await updateProfile({ display_name: name }));
    const stored = await saveOnboardingAnswers({ answers: answersToSave(values) });
    setAnswers(stored.items);
  };

  const backTo = user?.onboarding_completed ? '/chat' : '/onboarding';
  return (
    <div className={styles.page}>
      <header className={styles.header}>
        <Link to={backTo} className={styles.back}>
          ← Back to {user?.onboarding_completed ? 'chat' : 'onboarding'}
        </Link>
        <ThemeToggle />
      </header>
      <main className={styles.main}>
        <h1 className={styles.title}>Settings</h1>
        {loadError !== null ? (
          <FullPageStatus isError>{loadError}</FullPageStatus>
        ) : answers === null || user === null ? (
          <FullPageStatus>Loading your settings…</FullPageStatus>
        ) : (
          <SettingsForm displayName={user.display_name ?? ''} answers={answers} onSave={save} />
        )}
      </main>
    </div>
  );
}
