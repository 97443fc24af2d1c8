import { screen, waitFor } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';

import { renderApp, currentPath } from '../test/renderApp';
import { makeUser, API, server } from '../test/server';

import { chatService } from './chatService';
import { apiRequest } from './http';
import { getAccessToken, onSessionExpired, setAccessToken } from './session';

const EXPIRED = {
  error: { code: 'token_expired', message: 'The access token has expired.' },
};

/** A server whose access tokens are `access-<n>`: only the newest is accepted by /users/me and
 * /chat/stream-token; POST /auth/refresh issues the next (or refuses with `refusal`). */
function tokenServer(options: { refusal?: string; refreshDelayMs?: number } = {}) {
  const seen = { refreshes: 0, current: 'access-0', bearers: [] as string[] };
  const authorised = (request: Request): boolean => {
    const bearer = request.headers.get('Authorization') ?? '';
    seen.bearers.push(bearer);
    return bearer === `Bearer ${seen.current}`;
  };
  server.use(
    http.post(`${API}/auth/refresh`, async ({ request }) => {
      seen.refreshes += 1;
      expect(request.headers.get('X-Requested-With')).toBeTruthy();
      if (options.refreshDelayMs) await new Promise((r) => setTimeout(r, options.refreshDelayMs));
      if (options.refusal !== undefined) {
        return HttpResponse.json(
          { error: { code: options.refusal, message: 'Refused.' } },
          { status: 401 },
        );
      }
      seen.current = `access-${seen.refreshes}`;
      return HttpResponse.json({
        access_token: seen.current,
        token_type: 'bearer',
        expires_in: 900,
      });
    }),
    http.get(`${API}/users/me`, ({ request }) =>
      authorised(request)
        ? HttpResponse.json(makeUser())
        : HttpResponse.json(EXPIRED, { status: 401 }),
    ),
    http.post(`${API}/chat/stream-token`, ({ request }) =>
      authorised(request)
        ? HttpResponse.json({ token: 'stream-1', expires_in: 300 })
        : HttpResponse.json(EXPIRED, { status: 401 }),
    ),
  );
  return seen;
}

describe('refresh and replay', () => {
  let stopListening: (() => void) | null = null;
  afterEach(() => {
    stopListening?.();
    stopListening = null;
  });

  function countExpiries(): { count: number } {
    const expiries = { count: 0 };
    stopListening = onSessionExpired(() => (expiries.count += 1));
    return expiries;
  }

  it('refreshes once for concurrent 401s and replays every request with the new token', async () => {
    setAccessToken('stale-token', 900); // looks fresh here, but the server says it expired
    const seen = tokenServer({ refreshDelayMs: 20 });
    const expiries = countExpiries();

    const users = await Promise.all([
      apiRequest<{ id: string }>('/users/me'),
      apiRequest<{ id: string }>('/users/me'),
      apiRequest<{ id: string }>('/users/me'),
    ]);

    expect(users.map((u) => u.id)).toEqual(['user-1', 'user-1', 'user-1']);
    expect(seen.refreshes).toBe(1);
    expect(seen.bearers.filter((b) => b === 'Bearer access-1')).toHaveLength(3);
    expect(getAccessToken()).toBe('access-1');
    expect(expiries.count).toBe(0);
  });

  it('refreshes a token due to expire before using it, without a 401 round trip', async () => {
    setAccessToken('access-0', 1); // a second left: inside the refresh margin
    const seen = tokenServer();
    await new Promise((r) => setTimeout(r, 850));

    await apiRequest('/users/me');

    expect(seen.refreshes).toBe(1);
    expect(seen.bearers).toEqual(['Bearer access-1']);
  });

  it('fetches a stream token through a refresh before opening a stream', async () => {
    setAccessToken('stale-token', 900);
    const seen = tokenServer();

    const streamToken = await chatService.requestStreamToken();

    expect(streamToken.token).toBe('stream-1');
    expect(seen.refreshes).toBe(1);
  });

  it('uses the token another tab just stored instead of refreshing again', async () => {
    setAccessToken('stale-token', 900);
    const seen = tokenServer();
    seen.current = 'from-the-other-tab';
    server.use(
      http.get(`${API}/users/me`, ({ request }) => {
        const bearer = request.headers.get('Authorization');
        if (bearer === 'Bearer from-the-other-tab') return HttpResponse.json(makeUser());
        // The other tab refreshes while this request is on its way.
        setAccessToken('from-the-other-tab', 900);
        return HttpResponse.json(EXPIRED, { status: 401 });
      }),
    );

    await apiRequest('/users/me');

    expect(seen.refreshes).toBe(0);
  });

  it('ends the session once when the refresh is refused (a reused token), for every caller', async () => {
    setAccessToken('stale-token', 900);
    const seen = tokenServer({ refusal: 'refresh_token_reused' });
    const expiries = countExpiries();

    const results = await Promise.allSettled([apiRequest('/users/me'), apiRequest('/users/me')]);

    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toMatchObject({ status: 401 });
    }
    expect(seen.refreshes).toBe(1);
    expect(expiries.count).toBeGreaterThanOrEqual(1);
    expect(getAccessToken()).toBeNull();
  });

  it('keeps the session when the server cannot be reached to refresh', async () => {
    setAccessToken('stale-token', 900);
    tokenServer();
    server.use(http.post(`${API}/auth/refresh`, () => HttpResponse.error()));
    const expiries = countExpiries();

    await expect(apiRequest('/users/me')).rejects.toMatchObject({ code: 'network_error' });

    expect(expiries.count).toBe(0);
  });
});

describe('page load', () => {
  it('with no access token, refreshes first and stays signed in', async () => {
    const seen = tokenServer();
    renderApp('/chat');
    expect(await screen.findByRole('button', { name: 'Sign out' })).toBeInTheDocument();
    expect(currentPath()).toBe('/chat');
    expect(seen.refreshes).toBe(1);
  });

  it('with no access token and no session, shows the sign-in page (not "session ended")', async () => {
    renderApp('/chat');
    await waitFor(() => {
      expect(currentPath()).toBe('/login');
    });
    expect(screen.queryByText(/session has ended/i)).not.toBeInTheDocument();
  });

  it('signing out asks the server to revoke the refresh cookie', async () => {
    setAccessToken('access-0', 900);
    tokenServer();
    let logouts = 0;
    server.use(
      http.post(`${API}/auth/logout`, ({ request }) => {
        expect(request.headers.get('X-Requested-With')).toBeTruthy();
        logouts += 1;
        return new HttpResponse(null, { status: 204 });
      }),
    );
    const { user } = renderApp('/chat');
    await user.click(await screen.findByRole('button', { name: 'Sign out' }));
    await waitFor(() => {
      expect(logouts).toBe(1);
    });
    expect(currentPath()).toBe('/login');
    expect(getAccessToken()).toBeNull();
  });
});
