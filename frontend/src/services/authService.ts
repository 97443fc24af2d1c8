// Account calls: register, sign in (OAuth2 password form), the current user, sign out.

import type { RegisterRequest, TokenResponse, User } from '../api/types';

import { apiRequest } from './http';
import { clearAccessToken, setAccessToken } from './session';

export function register(request: RegisterRequest): Promise<User> {
  return apiRequest<User>('/auth/register', { method: 'POST', json: request, auth: false });
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

export function logout(): void {
  clearAccessToken();
}
