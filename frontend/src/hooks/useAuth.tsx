// Who is signed in, and the server's config for them. One provider at the top of the app; a
// session ends here when the API refuses to refresh it (services/http.ts refreshes expired
// access tokens unnoticed), and the route guards send the user to /login.

import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';

import type { RegisterRequest, ServerConfig, User } from '../api/types';
import * as authService from '../services/authService';
import { getConfig } from '../services/configService';
import { clearDrafts } from '../services/drafts';
import { ApiError } from '../services/http';
import { getAccessToken, onSessionExpired } from '../services/session';
import { refreshAccessToken } from '../services/tokenRefresh';

export type AuthStatus = 'loading' | 'anonymous' | 'authenticated';

export interface AuthState {
  status: AuthStatus;
  user: User | null;
  config: ServerConfig | null;
  /**
   * The server ended the session (a 401: the token expired or was removed), as opposed to a
   * sign-out: the sign-in page says so. False again once signed in.
   */
  sessionExpired: boolean;
  /** Signs in and loads the profile; resolves with the user (to choose /chat or /onboarding). */
  login: (email: string, password: string) => Promise<User>;
  register: (request: RegisterRequest) => Promise<User>;
  /** Signs out on purpose: the user's drafts on this browser are forgotten too. */
  logout: () => void;
  markOnboardingComplete: () => void;
  /** The profile as the server saved it (settings), so every page shows the new name. */
  profileSaved: (user: User) => void;
}

const AuthContext = createContext<AuthState | null>(null);

interface Session {
  status: AuthStatus;
  user: User | null;
  config: ServerConfig | null;
}

const ANONYMOUS: Session = { status: 'anonymous', user: null, config: null };

/** The config is not worth failing sign-in over: without it, answers come whole (no streaming). */
async function loadConfig(signal?: AbortSignal): Promise<ServerConfig | null> {
  try {
    return await getConfig(signal);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error;
    return null;
  }
}

async function loadSession(signal?: AbortSignal): Promise<Session> {
  const [user, config] = await Promise.all([
    authService.getCurrentUser(signal),
    loadConfig(signal),
  ]);
  return { status: 'authenticated', user, config };
}

export function AuthProvider({ children }: { children: ReactNode }) {
  // Loading at first even without an access token: the refresh cookie may still hold a session.
  const [session, setSession] = useState<Session>({ status: 'loading', user: null, config: null });

  const [sessionExpired, setSessionExpired] = useState(false);
  useEffect(
    () =>
      onSessionExpired(() => {
        setSession(ANONYMOUS);
        setSessionExpired(true);
      }),
    [],
  );

  // A reload: an access token in storage is checked; without one, the refresh cookie is tried
  // first (a refused refresh is a plain sign-in page, not "your session ended").
  useEffect(() => {
    const abort = new AbortController();
    const resume = async (): Promise<Session> => {
      if (getAccessToken() === null && (await refreshAccessToken(null)) === null) return ANONYMOUS;
      return loadSession(abort.signal);
    };
    resume().then(
      (next) => {
        if (!abort.signal.aborted) setSession(next);
      },
      () => {
        if (!abort.signal.aborted) setSession(ANONYMOUS);
      },
    );
    return () => {
      abort.abort();
    };
  }, []);

  const login = useCallback(async (email: string, password: string) => {
    await authService.login(email, password);
    const next = await loadSession();
    setSession(next);
    setSessionExpired(false);
    return next.user as User;
  }, []);

  const register = useCallback(
    async (request: RegisterRequest) => {
      // Registration signs in (its refresh cookie); a browser that kept no cookie signs in.
      if (!(await authService.register(request))) return login(request.email, request.password);
      const next = await loadSession();
      setSession(next);
      setSessionExpired(false);
      return next.user as User;
    },
    [login],
  );

  const userId = session.user?.id ?? null;
  const logout = useCallback(() => {
    if (userId !== null) clearDrafts(userId);
    void authService.logout();
    setSession(ANONYMOUS);
  }, [userId]);

  const markOnboardingComplete = useCallback(() => {
    setSession((s) => (s.user ? { ...s, user: { ...s.user, onboarding_completed: true } } : s));
  }, []);

  const profileSaved = useCallback((user: User) => {
    setSession((s) => (s.user ? { ...s, user } : s));
  }, []);

  const value = useMemo<AuthState>(
    () => ({
      ...session,
      sessionExpired,
      login,
      register,
      logout,
      markOnboardingComplete,
      profileSaved,
    }),
    [session, sessionExpired, login, register, logout, markOnboardingComplete, profileSaved],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (value === null) throw new Error('useAuth must be used inside <AuthProvider>');
  return value;
}
