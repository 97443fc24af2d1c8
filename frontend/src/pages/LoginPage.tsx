// Sign in; then on to the chat, or to onboarding for a user who has not finished it.

import { useState } from 'react';
import type { SyntheticEvent } from 'react';
import { Link, Navigate, useLocation, useNavigate } from 'react-router';

import { AuthCard, authStyles, Field, FormError } from '../components/AuthCard';
import { useAuth } from '../hooks/useAuth';
import { ApiError } from '../services/http';

interface FromState {
  from?: { pathname?: string };
}

export function homePath(onboardingCompleted: boolean): string {
  return onboardingCompleted ? '/chat' : '/onboarding';
}

export function LoginPage() {
  const { status, user, login, sessionExpired } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);

  if (status === 'authenticated' && user && !submitting) {
    return <Navigate to={homePath(user.onboarding_completed)} replace />;
  }
  // Sent here by a 401 from the page the user was on: they go back there, to their draft.
  const returning = sessionExpired && (location.state as FromState | null)?.from !== undefined;

  const onSubmit = async (event: SyntheticEvent) => {
    event.preventDefault();
    if (submitting) return;
    setSubmitting(true);
    setError(null);
    try {
      const me = await login(email.trim(), password);
      const from = (location.state as FromState | null)?.from?.pathname;
      const home = homePath(me.onboarding_completed);
      void navigate(me.onboarding_completed && from?.startsWith('/chat') ? from : home, {
        replace: true,
      });
    } catch (reason) {
      setSubmitting(false);
      if (reason instanceof ApiError && reason.status === 401) {
        setError('Wrong email or password.');
      } else {
        setError(
          reason instanceof ApiError ? reason.message : 'Could not sign in. Please try again.',
        );
      }
    }
  };

  return (
    <AuthCard title="Welcome back" subtitle="Sign in to continue your conversations.">
      {returning && (
        <p className={authStyles.notice} role="status">
          Your session has ended. Sign in again to go back to where you were; what you typed is
          kept.
        </p>
      )}
      <form className={authStyles.form} onSubmit={(event) => void onSubmit(event)} noValidate>
        <Field
          label="Email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(event) => {
            setEmail(event.target.value);
          }}
        />
        <Field
          label="Password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(event) => {
            setPassword(event.target.value);
          }}
        />
        {error !== null && <FormError>{error}</FormError>}
        <button type="submit" className={authStyles.submit} aria-disabled={submitting}>
          {submitting ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p className={authStyles.switch}>
        New here? <Link to="/register">Create an account</Link>
      </p>
    </AuthCard>
  );
}
