// Trades the refresh cookie for a new access token (POST /auth/refresh): one refresh at a time
// in this tab, and one at a time across tabs (a Web Lock), since each refresh spends the cookie.
// A tab that waited for another's refresh finds the new token in storage and uses it.

import type { TokenResponse } from '../api/types';
import { API_BASE } from '../lib/env';

import { getFreshAccessToken, setAccessToken } from './session';

/** The name of the lock every tab of this origin takes around a refresh. */
export const REFRESH_LOCK = 'chatstream.refresh';

/** The server could not be asked, or failed to answer (`status` 0 when unreachable). */
export class RefreshUnavailable extends Error {
  readonly status: number;

  constructor(status: number) {
    super(
      status === 0
        ? "Can't reach the server. Check your connection."
        : 'The service is busy. Please try again shortly.',
    );
    this.name = 'RefreshUnavailable';
    this.status = status;
  }
}

let inFlight: Promise<string | null> | null = null;

/**
 * A new access token, or null when the server refused the refresh (no cookie, expired, signed
 * out, or a reused token: the session is over). `staleToken` is the token the caller found
 * wanting (or null): a different, fresh one in storage means another tab just refreshed, and it
 * is used as it is. Throws RefreshUnavailable when the server could not be asked (offline, 5xx):
 * that ends nothing.
 */
export function refreshAccessToken(staleToken: string | null): Promise<string | null> {
  inFlight ??= withTabsLock(() => refreshUnlessDone(staleToken)).finally(() => {
    inFlight = null;
  });
  return inFlight;
}

async function withTabsLock<T>(work: () => Promise<T>): Promise<T> {
  // Web Locks are in every current browser; where they are missing (an old one, jsdom) the
  // server's grace for a just-spent token keeps two tabs refreshing at once signed in.
  if (typeof navigator === 'undefined' || !('locks' in navigator)) return work();
  const results: T[] = [];
  await navigator.locks.request(REFRESH_LOCK, async () => {
    results.push(await work());
  });
  const [result] = results;
  if (result === undefined) throw new Error('the refresh lock was released without running');
  return result;
}

async function refreshUnlessDone(staleToken: string | null): Promise<string | null> {
  const stored = getFreshAccessToken();
  if (stored !== null && stored !== staleToken) return stored;

  let response: Response;
  try {
    response = await fetch(`${API_BASE}/auth/refresh`, {
      method: 'POST',
      credentials: 'same-origin',
      // The server refuses a refresh without it: a cross-site form cannot send a header.
      headers: { Accept: 'application/json', 'X-Requested-With': 'chatstream-web' },
    });
  } catch {
    throw new RefreshUnavailable(0);
  }
  if (response.status === 401) return null;
  if (!response.ok) throw new RefreshUnavailable(response.status);
  const token = (await response.json()) as TokenResponse;
  setAccessToken(token.access_token, token.expires_in);
  return token.access_token;
}
