// fetch wrapper for the REST API: bearer auth, JSON in and out, one error type with a message
// a person can read. An authenticated call whose token is due (or answered 401) refreshes it
// once and is replayed, unnoticed; only a refused refresh ends the session.

import type { ApiErrorBody } from '../api/types';
import { API_BASE } from '../lib/env';

import { expireSession, getFreshAccessToken } from './session';
import { refreshAccessToken, RefreshUnavailable } from './tokenRefresh';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** Seconds to wait before trying again, from Retry-After (429, 503), else null. */
  readonly retryAfterS: number | null;

  constructor(status: number, code: string, message: string, retryAfterS: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterS = retryAfterS;
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  json?: unknown;
  form?: Record<string, string>;
  query?: Record<string, string | number | null | undefined>;
  /** false for the login and register calls: no token is sent and a 401 is not a logout. */
  auth?: boolean;
  signal?: AbortSignal;
}

export function apiUrl(path: string, query?: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== null && value !== undefined) params.set(key, String(value));
  }
  const search = params.toString();
  return `${API_BASE}${path}${search ? `?${search}` : ''}`;
}

/** Parses Retry-After, given either as seconds or as an HTTP date. */
export function parseRetryAfter(header: string | null, now: number = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(header);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

export function describeWait(seconds: number | null): string {
  if (seconds === null) return 'Please wait a moment and try again.';
  if (seconds <= 1) return 'Try again in a second.';
  if (seconds < 90) return `Try again in ${seconds} seconds.`;
  const minutes = Math.ceil(seconds / 60);
  return `Try again in ${minutes} minutes.`;
}

const FALLBACK_MESSAGES: Record<number, string> = {
  400: 'The request was not understood.',
  401: 'Your session has ended. Please sign in again.',
  403: 'You are not allowed to do that.',
  404: 'Not found.',
  409: 'That conflicts with something that already exists.',
  413: 'That message is too long.',
  422: 'Some of the input is not valid.',
  502: 'The assistant could not answer. Please try again.',
  503: 'The service is busy. Please try again shortly.',
};

async function toApiError(response: Response): Promise<ApiError> {
  let code = `http_${response.status}`;
  let message = FALLBACK_MESSAGES[response.status] ?? `The server answered ${response.status}.`;
  try {
    const body = (await response.json()) as Partial<ApiErrorBody>;
    if (body.error && typeof body.error.code === 'string') code = body.error.code;
    if (body.error && typeof body.error.message === 'string' && body.error.message !== '') {
      message = body.error.message;
    }
  } catch {
    /* not JSON: keep the fallback */
  }
  const retryAfterS = parseRetryAfter(response.headers.get('Retry-After'));
  if (response.status === 429) {
    message = `You're sending messages too quickly. ${describeWait(retryAfterS)}`;
    code = code.startsWith('http_') ? 'rate_limited' : code;
  }
  return new ApiError(response.status, code, message, retryAfterS);
}

/** A token for an authenticated call: the stored one, or a refreshed one when it is due. Ends
 * the session (and throws a 401) when the refresh is refused. */
async function accessTokenFor(staleToken: string | null): Promise<string> {
  let token: string | null;
  try {
    token = await refreshAccessToken(staleToken);
  } catch (error) {
    if (!(error instanceof RefreshUnavailable)) throw error;
    const code = error.status === 0 ? 'network_error' : 'refresh_failed';
    throw new ApiError(error.status, code, error.message);
  }
  if (token === null) {
    expireSession();
    throw new ApiError(401, 'unauthorized', FALLBACK_MESSAGES[401] ?? '');
  }
  return token;
}

export async function apiRequest<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const { method = 'GET', json, form, query, auth = true, signal } = options;
  const headers = new Headers({ Accept: 'application/json' });
  let body: BodyInit | undefined;
  if (json !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  }

  const send = async (token: string | null): Promise<Response> => {
    if (token !== null) headers.set('Authorization', `Bearer ${token}`);
    try {
      return await fetch(apiUrl(path, query), { method, headers, body, signal });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiError(0, 'network_error', "Can't reach the server. Check your connection.");
    }
  };

  let token = auth ? (getFreshAccessToken() ?? (await accessTokenFor(null))) : null;
  let response = await send(token);
  if (response.status === 401 && token !== null) {
    // Usually `token_expired` (the token ran out on the way, or the clock is off): refreshed
    // once, and the same request sent again. A second 401 is the answer.
    token = await accessTokenFor(token);
    response = await send(token);
    if (response.status === 401) expireSession();
  }

  if (!response.ok) throw await toApiError(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}
