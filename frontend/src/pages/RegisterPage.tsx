// Create an account; a new user goes straight to the onboarding chat.

import { useState } from 'react';
import type { SyntheticEvent } from 'react';
import { Link, Navigate, useNavigate } from 'react-router';

import { AuthCard, authStyles, Field, FormError } from '../components/AuthCard';
import { useAuth } from '../hooks/useAuth';
import { ApiError } from '../services/http';

import { homePath } from './LoginPage';

export const MIN_PASSWORD_LENGTH = 8;

export function RegisterPage() {
  const { status, user, register } = useAuth();
  const navigate = useNavigate();
  const [email, setEmail] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);

  if (status === 'authenticated' && user && !submitting) {
    return <Navigate to={homePath(user.onboarding_completed)} replace />;
  }

  const onSubmit = async (event: SyntheticEvent) => {
    event.preventDefault();
    if (submitting) return;
    if (!/^\S+@\S+\.\S+$/.test(email.trim())) {
      setError('Please enter a valid email address.');
      return;
    }
    if (password.length < MIN_PASSWORD_LENGTH) {
      setError(`The password needs at least ${MIN_PASSWORD_LENGTH} characters.`);
      return;
    }
    setSubmitting(true);
    setError(null);
    try {
      const name = displayName.trim();
      const me = await register({
        email: email.trim(),
        password,
        ...(name ? { display_name: name } : {}),
      });
      void navigate(homePath(me.onboarding_completed), { replace: true });
    } catch (reason) {
      setSubmitting(false);
      if (reason instanceof ApiError && reason.code === 'email_taken') {
        setError('An account with this email already exists. Sign in instead?');
      } else {
        setError(
          reason instanceof ApiError
            ? reason.message
            : 'Could not create the account. Please try again.',
        );
      }
    }
  };

  return (
    <AuthCard
      title="Create your account"
      subtitle="A short chat to get to know you, then ask away."
    >
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
          label="Name (optional)"
          type="text"
          autoComplete="name"
          value={displayName}
          onChange={(event) => {
            setDisplayName(event.target.value);
          }}
        />
        <Field
          label="Password"
          type="password"
          autoComplete="new-password"
          required
          minLength={MIN_PASSWORD_LENGTH}
          hint={`At least ${MIN_PASSWORD_LENGTH} characters.`}
          value={password}
          onChange={(event) => {
            setPassword(event.target.value);
          }}
        />
        {error !== null && <FormError>{error}</FormError>}
        <button type="submit" className={authStyles.submit} aria-disabled={submitting}>
          {submitting ? 'Creating account…' : 'Create account'}
        </button>
      </form>
      <p className={authStyles.switch}>
        Already have an account? <Link to="/login">Sign in</Link>
      </p>
    </AuthCard>
  );
}
