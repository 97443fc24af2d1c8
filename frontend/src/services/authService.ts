// Account calls: register, sign in (OAuth2 password form), the current user, sign out. Sign-in
// and registration also set the refresh cookie (HttpOnly: the browser keeps it, no script sees
// it); sign-out asks the server to revoke it.

import type { RegisterRequest, TokenResponse, User } from '../api/types';
import { API_BASE } from '../lib/env';

import { apiRequest } from './http';
import { clearAccessToken, setAccessToken } from './session';
import { refreshAccessToken } from './tokenRefresh';

/** Creates the account; resolves with whether it is signed in too (its refresh cookie traded
 * for an access token), or false when the browser kept no cookie (then sign in). */
export async function register(request: RegisterRequest): Promise<boolean> {
  await apiRequest<User>('/auth/register', { method: 'POST', json: request, auth: false });
  clearAccessToken(); // whatever this browser held before, the new account's token comes next
  try {
    return (await refreshAccessToken(null)) !== null;
  } catch {
    return false;
  }
}

export async function login(email: string, password: string): Promise<void> {
  const token = await apiRequest<TokenResponse>('/auth/token', {
    method: 'POST',
    form: { username: email, password },
    auth: false,
  });
  setAccessToken(token.access_token, token.expires_in);
}

export function getCurrentUser(signal?: AbortSignal): Promise<User> {
  return apiRequest<User>('/users/me', { signal });
}

/** Forgets the access token at once; the server revokes the refresh cookie's whole sign-in. */
export async function logout(): Promise<void> {
  clearAccessToken();
  try {
    await fetch(`${API_BASE}/auth/logout`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-Requested-With': 'chatstream-web' },
    });
  } catch {
    // Offline: the access token is gone from this browser; the cookie expires on its own.
  }
}
