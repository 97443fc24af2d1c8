import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';

import { signIn } from '../test/helpers';
import { API, server } from '../test/server';

import { ApiError, apiRequest, describeWait, parseRetryAfter } from './http';
import { getAccessToken, onSessionExpired } from './session';

describe('http', () => {
  it('parses Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('30')).toBe(30);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:02:00 GMT', now)).toBe(120);
  });

  it('describes waits in words', () => {
    expect(describeWait(30)).toBe('Try again in 30 seconds.');
    expect(describeWait(600)).toBe('Try again in 10 minutes.');
    expect(describeWait(null)).toMatch(/moment/);
  });

  it('turns an error body into an ApiError with code and message', async () => {
    signIn();
    server.use(
      http.get(`${API}/chat/conversations/:id/messages`, () =>
        HttpResponse.json(
          { error: { code: 'not_found', message: 'No such conversation' } },
          { status: 404 },
        ),
      ),
    );
    const error = await apiRequest('/chat/conversations/x/messages').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 404,
      code: 'not_found',
      message: 'No such conversation',
    });
  });

  it('ends the session on a 401 from an authenticated call', async () => {
    signIn();
    let expired = 0;
    const stop = onSessionExpired(() => (expired += 1));
    server.use(
      http.get(`${API}/users/me`, () =>
        HttpResponse.json({ error: { code: 'unauthorized', message: 'Expired' } }, { status: 401 }),
      ),
    );
    await expect(apiRequest('/users/me')).rejects.toMatchObject({ status: 401 });
    expect(expired).toBe(1);
    expect(getAccessToken()).toBeNull();
    stop();
  });

  it('reports an unreachable server as a network error', async () => {
    signIn();
    server.use(http.get(`${API}/config`, () => HttpResponse.error()));
    await expect(apiRequest('/config')).rejects.toMatchObject({ code: 'network_error', status: 0 });
  });
});
