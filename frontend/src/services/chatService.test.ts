import fc from 'fast-check';
import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';

import type { StreamEvent } from '../api/events';
import type { StartTurnRequest } from '../api/types';
import { FakeEventSource } from '../test/FakeEventSource';
import { chunk, complete, signIn, start, waitForEventSource } from '../test/helpers';
import { API, cancelled, makeMessage, recordTurns, server, startedTurn } from '../test/server';

import type { StreamCallbacks } from './chatService';
import { ChatService, STOP_ACK_TIMEOUT_MS } from './chatService';
import { RECONNECT_WINDOW_MS, reconnectDelayMs } from './streamConnection';

function spyCallbacks() {
  return {
    onStart: vi.fn(),
    onChunk: vi.fn(),
    onComplete: vi.fn(),
    onError: vi.fn(),
    onCancelled: vi.fn(),
  } satisfies StreamCallbacks;
}

/**
 * Records the stops the server receives (`answer:<id>` or `send:<client_message_id>`); each is
 * acknowledged with `content` as the stored text once `release` resolves.
 */
function recordStops(options: { content?: string; release?: Promise<void> } = {}): string[] {
  const stops: string[] = [];
  const { content = 'stored text', release = Promise.resolve() } = options;
  server.use(
    http.post(`${API}/chat/messages/:id/cancel`, async ({ params }) => {
      stops.push(`answer:${String(params.id)}`);
      await release;
      return HttpResponse.json(cancelled(String(params.id), content), { status: 202 });
    }),
    http.post(`${API}/chat/cancel`, async ({ request }) => {
      const body = (await request.json()) as { client_message_id: string };
      stops.push(`send:${body.client_message_id}`);
      await release;
      return HttpResponse.json(cancelled(null), { status: 202 });
    }),
  );
  return stops;
}

/**
 * Records each stream token asked for, by purpose (`send` for the plain request); at the hourly
 * limit, as the server does, a plain request is refused with 429 and a watch is not.
 */
function recordTokens(options: { atLimit?: boolean } = {}): string[] {
  const purposes: string[] = [];
  server.use(
    http.post(`${API}/chat/stream-token`, ({ request }) => {
      const purpose = new URL(request.url).searchParams.get('purpose') ?? 'send';
      purposes.push(purpose);
      if (options.atLimit && purpose !== 'watch') {
        return HttpResponse.json(
          { error: { code: 'rate_limited', message: 'Too many messages.' } },
          { status: 429, headers: { 'Retry-After': '3600' } },
        );
      }
      return HttpResponse.json({ token: `${purpose}-token`, expires_in: 300 });
    }),
  );
  return purposes;
}

beforeEach(() => {
  signIn();
});

/** Holds every POST /chat/turns until `release` is called; records each body. */
function holdTurns(): { bodies: StartTurnRequest[]; release: () => void } {
  let release = (): void => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const bodies: StartTurnRequest[] = [];
  server.use(
    http.post(`${API}/chat/turns`, async ({ request }) => {
      const body = (await request.json()) as StartTurnRequest;
      bodies.push(body);
      await released;
      return HttpResponse.json(startedTurn(body), { status: 202 });
    }),
  );
  return { bodies, release };
}

describe('ChatService.streamMessage', () => {
  it("posts the message in a body, then reads its answer's stream with a stream token", async () => {
    const turns = recordTurns();
    const service = new ChatService();
    service.streamMessage('Hello there?', { conversationId: 'conv-9' }, spyCallbacks());
    const es = await waitForEventSource();

    expect(turns).toEqual([
      {
        message: 'Hello there?',
        client_message_id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
        kind: 'chat',
        conversation_id: 'conv-9',
      },
    ]);
    expect(es.pathname).toBe('/api/v1/chat/messages/assistant-1/stream');
    expect([...es.params.keys()]).toEqual(['token']);
    expect(es.params.get('token')).toBe('stream-token-1');

    service.streamMessage('again', {}, spyCallbacks());
    await waitForEventSource(2);
    expect(turns[1]).toMatchObject({ message: 'again', conversation_id: null });
    expect(turns[1]?.client_message_id).not.toBe(turns[0]?.client_message_id);
  });

  it('a retry repeats the client_message_id with regenerate: true', async () => {
    const turns = recordTurns();
    new ChatService().streamMessage(
      'Again?',
      { clientMessageId: 'cmid-1', regenerate: true },
      spyCallbacks(),
    );
    await waitForEventSource();
    expect(turns).toEqual([
      {
        message: 'Again?',
        client_message_id: 'cmid-1',
        kind: 'chat',
        conversation_id: null,
        regenerate: true,
      },
    ]);
  });

  it('puts neither the access token nor the message in the stream URL', async () => {
    new ChatService().streamMessage('a private question', {}, spyCallbacks());
    const es = await waitForEventSource();
    expect(es.url).not.toContain('access-token-1');
    expect(es.url).not.toContain('private');
  });

  it('a message of 8,000 four-byte characters travels whole in the body', async () => {
    const turns = recordTurns();
    const message = '😀'.repeat(8_000); // 32,000 bytes of UTF-8: no URL has room for it
    new ChatService().streamMessage(message, {}, spyCallbacks());
    const es = await waitForEventSource();
    expect(turns[0]?.message).toBe(message);
    expect(es.url.length).toBeLessThan(200);
  });

  it('sends an onboarding turn as kind onboarding, without a conversation id', async () => {
    const turns = recordTurns({ messageId: 'a-onb' });
    new ChatService().streamMessage(
      'I am Ada',
      { isOnboarding: true, conversationId: 'ignored' },
      spyCallbacks(),
    );
    const es = await waitForEventSource();
    expect(turns).toEqual([
      { message: 'I am Ada', client_message_id: expect.any(String) as unknown, kind: 'onboarding' },
    ]);
    expect(es.pathname).toBe('/api/v1/chat/messages/a-onb/stream');
  });

  it("tells `start` from the POST's reply before the stream opens, and not again from the stream", async () => {
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', {}, callbacks);
    await vi.waitFor(() => {
      expect(callbacks.onStart).toHaveBeenCalledWith(start('assistant-1', 'conv-1'));
    });
    const es = await waitForEventSource();
    es.emit(start('assistant-1', 'conv-1'), 'assistant-1:0');
    expect(callbacks.onStart).toHaveBeenCalledTimes(1);
  });

  it('routes chunk events to their callback with their data', async () => {
    recordTurns({ messageId: 'a-1', conversationId: 'c-1' });
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();

    es.emit(start('a-1', 'c-1'), 'a-1:0');
    es.emit(chunk('Hel', 0), 'a-1:1');
    es.emit(chunk('lo', 1), 'a-1:2');

    expect(callbacks.onStart).toHaveBeenCalledWith(start('a-1', 'c-1'));
    expect(callbacks.onChunk.mock.calls.map(([event]) => event as unknown)).toEqual([
      chunk('Hel', 0),
      chunk('lo', 1),
    ]);
    expect(callbacks.onComplete).not.toHaveBeenCalled();
    expect(es.closed).toBe(false);
  });

  it('calls onComplete and closes the EventSource so the browser does not reconnect', async () => {
    const callbacks = spyCallbacks();
    const service = new ChatService();
    service.streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();

    es.emit(start());
    es.emit(chunk('Hi', 0));
    es.emit(complete(1));

    expect(callbacks.onComplete).toHaveBeenCalledWith(complete(1));
    expect(es.closed).toBe(true);
    expect(callbacks.onError).not.toHaveBeenCalled();
  });

  it('calls onError with the server error and closes the EventSource', async () => {
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();

    es.emit(start());
    es.emit({ type: 'error', code: 'llm_error', message: 'Model failed', retryable: true });

    expect(callbacks.onError).toHaveBeenCalledWith({
      code: 'llm_error',
      message: 'Model failed',
      retryable: true,
      kept: null,
    });
    expect(es.closed).toBe(true);
    expect(callbacks.onComplete).not.toHaveBeenCalled();
  });

  it('passes on the text the server kept when it had sent more (a crash lost the rest)', async () => {
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();

    es.emit(start());
    es.emit({
      type: 'error',
      code: 'internal',
      message: 'Interrupted',
      retryable: true,
      content: 'What was kept',
    });

    expect(callbacks.onError).toHaveBeenCalledWith(
      expect.objectContaining({ code: 'internal', kept: 'What was kept' }),
    );
  });

  it('reports a refused stream (error before any event) as a retryable failure', async () => {
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();

    es.refuse();

    expect(callbacks.onError).toHaveBeenCalledTimes(1);
    expect(callbacks.onError.mock.calls[0]?.[0]).toMatchObject({
      code: 'stream_start_failed',
      retryable: true,
    });
    expect(es.closed).toBe(true);
  });

  it('turns a 429 on the stream token into a readable rate-limit error with the wait', async () => {
    server.use(
      http.post(`${API}/chat/stream-token`, () =>
        HttpResponse.json(
          { error: { code: 'rate_limited', message: 'Too many requests' } },
          { status: 429, headers: { 'Retry-After': '42' } },
        ),
      ),
    );
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', {}, callbacks);

    await vi.waitFor(() => {
      expect(callbacks.onError).toHaveBeenCalled();
    });
    const failure = callbacks.onError.mock.calls[0]?.[0] as { message: string };
    expect(failure).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterS: 42 });
    expect(failure.message).toMatch(/too quickly/i);
    expect(failure.message).toMatch(/42 seconds/);
    expect(FakeEventSource.instances).toHaveLength(0);
  });

  // The POST's refusals are plain JSON, so the page reads the server's own message (an
  // EventSource only ever saw "closed").
  it.each([
    [413, 'message_too_long', 'The message is 8001 characters long; the limit is 8000.'],
    [409, 'conflict', 'That client_message_id was used for a different message.'],
    [422, 'empty_message', 'The message is empty.'],
    [422, 'invalid_message', 'The message holds a character no database can store.'],
    [403, 'streaming_disabled', 'Streaming is off for this account.'],
  ])(
    'a send refused with %i %s reports the server message, not retryable',
    async (status, code, message) => {
      server.use(
        http.post(`${API}/chat/turns`, () =>
          HttpResponse.json({ error: { code, message } }, { status }),
        ),
      );
      const callbacks = spyCallbacks();
      new ChatService().streamMessage('hi', {}, callbacks);
      await vi.waitFor(() => {
        expect(callbacks.onError).toHaveBeenCalledWith({
          code,
          message,
          retryable: false,
          retryAfterS: null,
          refused: true, // nothing was stored: the page gives the text back to the box
        });
      });
      expect(callbacks.onStart).not.toHaveBeenCalled();
      expect(FakeEventSource.instances).toHaveLength(0);
    },
  );

  it('a send refused at a rate limit by its POST says when to try again, retryable', async () => {
    server.use(
      http.post(`${API}/chat/turns`, () =>
        HttpResponse.json(
          { error: { code: 'rate_limited', message: 'Too many messages.' } },
          { status: 429, headers: { 'Retry-After': '90' } },
        ),
      ),
    );
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', {}, callbacks);
    await vi.waitFor(() => {
      expect(callbacks.onError).toHaveBeenCalledTimes(1);
    });
    expect(callbacks.onError.mock.calls[0]?.[0]).toEqual({
      code: 'rate_limited',
      message: "You're sending messages too quickly. Try again in 2 minutes.",
      retryable: true,
      retryAfterS: 90,
      refused: true,
    });
    expect(FakeEventSource.instances).toHaveLength(0);
  });

  it('a repeat whose answer has ended reads that answer as stored: nothing new starts', async () => {
    const turns: StartTurnRequest[] = [];
    server.use(
      http.post(`${API}/chat/turns`, async ({ request }) => {
        const body = (await request.json()) as StartTurnRequest;
        turns.push(body);
        const turn = startedTurn(body, { messageId: 'a-done' });
        return HttpResponse.json(
          { ...turn, assistant_message: { ...turn.assistant_message, status: 'complete' } },
          { status: 202 },
        );
      }),
    );
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', { clientMessageId: 'cmid-9' }, callbacks);
    const es = await waitForEventSource();
    expect(es.pathname).toBe('/api/v1/chat/messages/a-done/stream');
    es.emit(start('a-done'), 'a-done:0');
    es.emit(chunk('Told again.', 0), 'a-done:1');
    es.emit(complete(1, 'a-done'), 'a-done:2');
    expect(callbacks.onComplete).toHaveBeenCalledWith(complete(1, 'a-done'));
    expect(turns.map((t) => t.client_message_id)).toEqual(['cmid-9']);
  });

  it('lets the browser reconnect after a transient drop and keeps going', async () => {
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();

    es.emit(start(), 'a:0');
    es.emit(chunk('a', 0), 'a:1');
    es.drop();
    es.emit(chunk('b', 1), 'a:2'); // the server resumed after Last-Event-ID
    es.emit(complete(2), 'a:3');

    expect(callbacks.onError).not.toHaveBeenCalled();
    expect(callbacks.onChunk).toHaveBeenCalledTimes(2);
    expect(callbacks.onComplete).toHaveBeenCalledTimes(1);
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it('ignores a chunk it has already applied (a replay after resuming)', async () => {
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();
    es.emit(start());
    es.emit(chunk('a', 0));
    es.emit(chunk('a', 0));
    expect(callbacks.onChunk).toHaveBeenCalledTimes(1);
  });

  it('tells the place in line while the answer waits for the model, never after its first chunk', async () => {
    const callbacks = { ...spyCallbacks(), onQueued: vi.fn() };
    new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();
    es.emit(start(), 'a:0');
    // No id of its own: the browser keeps the start's as the last event id.
    es.emit({ type: 'queued', position: 2, message_id: 'a' });
    es.emit({ type: 'queued', position: 1, message_id: 'a' });
    es.emit(chunk('Hi', 0), 'a:1');
    es.emit({ type: 'queued', position: 1, message_id: 'a' }); // stale: ignored
    expect(callbacks.onQueued.mock.calls).toEqual([[2], [1]]);
    expect(callbacks.onChunk).toHaveBeenCalledTimes(1);
    expect(callbacks.onError).not.toHaveBeenCalled();
  });

  it('says it is reconnecting while the connection is down, and when it is back', async () => {
    const callbacks = { ...spyCallbacks(), onConnectionChange: vi.fn() };
    new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();
    es.emit(start(), 'a:0');
    es.drop();
    expect(callbacks.onConnectionChange.mock.calls).toEqual([[true]]);
    es.open(); // the browser's own reconnect got through
    expect(callbacks.onConnectionChange.mock.calls).toEqual([[true], [false]]);
    expect(callbacks.onError).not.toHaveBeenCalled();
  });

  it('retries a server out of reach with growing waits, then resumes after the last event', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      recordTurns({ messageId: 'a-1' });
      const tokens = recordTokens();
      const callbacks = { ...spyCallbacks(), onConnectionChange: vi.fn() };
      new ChatService().streamMessage('hi', {}, callbacks);
      const es = await waitForEventSource();
      es.emit(start('a-1'), 'a-1:0');
      es.emit(chunk('Hel', 0), 'a-1:1');
      // The server goes away: the browser's reconnect fails, then every token request.
      server.use(http.post(`${API}/chat/stream-token`, () => HttpResponse.error()));
      es.drop();
      es.drop();
      expect(es.closed).toBe(true);
      expect([1, 2, 3, 4, 5, 6].map(reconnectDelayMs)).toEqual([
        500, 1_000, 2_000, 4_000, 8_000, 8_000,
      ]);
      await vi.advanceTimersByTimeAsync(500 + 1_000 + 2_000 + 4_000);
      expect(FakeEventSource.instances).toHaveLength(1); // no token, no stream
      expect(callbacks.onError).not.toHaveBeenCalled();

      server.resetHandlers(); // the server is back
      recordTurns({ messageId: 'a-1' });
      const watchTokens = recordTokens();
      await vi.advanceTimersByTimeAsync(8_000);
      const reopened = await waitForEventSource(2);
      expect(reopened.params.get('last_event_id')).toBe('a-1:1');
      expect(watchTokens).toEqual(['watch']); // reading an answer: never refused by the limits
      reopened.emit(chunk('lo', 1), 'a-1:2');
      reopened.emit(complete(2, 'a-1'), 'a-1:3');
      expect(callbacks.onConnectionChange.mock.calls).toEqual([[true], [false]]);
      expect(callbacks.onComplete).toHaveBeenCalledTimes(1);
      expect(callbacks.onError).not.toHaveBeenCalled();
      expect(tokens).toEqual(['send']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives up once the server has been out of reach for the reconnect window', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      recordTurns({ messageId: 'a-1' });
      const callbacks = spyCallbacks();
      new ChatService().streamMessage('hi', {}, callbacks);
      const es = await waitForEventSource();
      es.emit(start('a-1'), 'a-1:0');
      server.use(http.post(`${API}/chat/stream-token`, () => HttpResponse.error()));
      es.drop();
      es.drop();
      await vi.advanceTimersByTimeAsync(RECONNECT_WINDOW_MS - 1_000);
      expect(callbacks.onError).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(callbacks.onError).toHaveBeenCalledTimes(1);
      expect(callbacks.onError.mock.calls[0]?.[0]).toMatchObject({
        code: 'connection_lost',
        retryable: true,
      });
      expect(FakeEventSource.instances).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives up after a bounded number of reopens the server refuses with a status', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      recordTurns({ messageId: 'a-1' });
      const callbacks = spyCallbacks();
      new ChatService().streamMessage('hi', { maxReconnects: 2 }, callbacks);
      let es = await waitForEventSource();
      es.emit(start('a-1'), 'a-1:0');
      for (let refusal = 1; refusal <= 2; refusal += 1) {
        es.refuse();
        await vi.advanceTimersByTimeAsync(reconnectDelayMs(refusal));
        es = await waitForEventSource(refusal + 1);
      }
      expect(callbacks.onError).not.toHaveBeenCalled();
      es.refuse();
      expect(callbacks.onError.mock.calls[0]?.[0]).toMatchObject({ code: 'connection_lost' });
      expect(es.closed).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('reopens by hand with a fresh token and last_event_id when a reconnect is refused', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const turns = recordTurns({ messageId: 'a-1' });
      const callbacks = spyCallbacks();
      new ChatService().streamMessage('hi', {}, callbacks);
      const es = await waitForEventSource();
      es.emit(start('a-1'), 'a-1:0');
      es.emit(chunk('Hel', 0), 'a-1:1');

      es.refuse(); // e.g. the stream token expired before the reconnect
      expect(es.closed).toBe(true);
      await vi.advanceTimersByTimeAsync(1_000);

      const reopened = await waitForEventSource(2);
      expect(reopened.pathname).toBe('/api/v1/chat/messages/a-1/stream');
      expect(reopened.params.get('last_event_id')).toBe('a-1:1');
      expect(turns).toHaveLength(1); // the answer is read again, the message not sent again
      reopened.emit(chunk('lo', 1), 'a-1:2');
      reopened.emit(complete(2, 'a-1'), 'a-1:3');

      expect(callbacks.onChunk.mock.calls.map(([e]) => (e as { content: string }).content)).toEqual(
        ['Hel', 'lo'],
      );
      expect(callbacks.onComplete).toHaveBeenCalledTimes(1);
      expect(callbacks.onError).not.toHaveBeenCalled();
    } finally {
      vi.useRealTimers();
    }
  });

  it('reports unreadable event data as an error instead of dropping text', async () => {
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();
    es.emit('{not json');
    expect(callbacks.onError.mock.calls[0]?.[0]).toMatchObject({ code: 'protocol_error' });
    expect(es.closed).toBe(true);
  });
});

describe('ChatService: leaving and stopping an answer', () => {
  it('detach() closes the connection and leaves the answer running: no stop is sent', async () => {
    recordTurns({ messageId: 'a-7' });
    const stops = recordStops();
    const callbacks = spyCallbacks();
    const stream = new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();
    es.emit(start('a-7'));
    es.emit(chunk('partial', 0));

    stream.detach();

    expect(es.closed).toBe(true);
    es.emit(chunk(' more', 1)); // a late event after leaving reaches nobody
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stops).toEqual([]);
    expect(callbacks.onChunk).toHaveBeenCalledTimes(1);
    expect(callbacks.onCancelled).not.toHaveBeenCalled();
    expect(callbacks.onError).not.toHaveBeenCalled();
  });

  it('stop() asks the server, keeps reading what was written before, and ends with the stored text', async () => {
    let release = (): void => undefined;
    const stops = recordStops({
      content: 'partial and more',
      release: new Promise<void>((resolve) => (release = resolve)),
    });
    recordTurns({ messageId: 'a-7' });
    const callbacks = spyCallbacks();
    const stream = new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();
    es.emit(start('a-7'), 'a-7:0');
    es.emit(chunk('partial', 0), 'a-7:1');

    stream.stop();
    await vi.waitFor(() => {
      expect(stops).toEqual(['answer:a-7']);
    });
    expect(es.closed).toBe(false);
    es.emit(chunk(' and more', 1), 'a-7:2'); // written before the stop reached the model
    expect(callbacks.onChunk).toHaveBeenCalledTimes(2);

    release();
    await vi.waitFor(() => {
      expect(callbacks.onCancelled).toHaveBeenCalledWith('partial and more');
    });
    expect(es.closed).toBe(true);
    expect(callbacks.onComplete).not.toHaveBeenCalled();
    expect(callbacks.onError).not.toHaveBeenCalled();
  });

  it('a stream ended by `cancelled` (a Stop in another tab) reports the stop, not an error', async () => {
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();
    es.emit(start('a-1'), 'a-1:0');
    es.emit(chunk('Hel', 0), 'a-1:1');
    es.emit(
      {
        type: 'error',
        code: 'cancelled',
        message: 'Stopped.',
        retryable: false,
        message_id: 'a-1',
      },
      'a-1:2',
    );
    expect(callbacks.onCancelled).toHaveBeenCalledWith(null);
    expect(callbacks.onError).not.toHaveBeenCalled();
    expect(es.closed).toBe(true);
  });

  it('when the stream ends with `cancelled` before the acknowledgement, the stop is reported once', async () => {
    let release = (): void => undefined;
    recordStops({ release: new Promise<void>((resolve) => (release = resolve)) });
    const callbacks = spyCallbacks();
    const stream = new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();
    es.emit(start('a-1'), 'a-1:0');
    stream.stop();
    es.emit({ type: 'error', code: 'cancelled', message: 'Stopped.', retryable: false });
    release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(callbacks.onCancelled).toHaveBeenCalledTimes(1);
    expect(callbacks.onCancelled).toHaveBeenCalledWith(null);
  });

  it('an answer that ended before the stop reached it completes as it ended', async () => {
    server.use(
      http.post(`${API}/chat/messages/:id/cancel`, ({ params }) =>
        HttpResponse.json(
          { ...cancelled(String(params.id), 'Hello'), status: 'complete' },
          { status: 202 },
        ),
      ),
    );
    const callbacks = spyCallbacks();
    const stream = new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();
    es.emit(start('a-1'), 'a-1:0');
    stream.stop();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(es.closed).toBe(false); // the stream says how it ended
    es.emit(chunk('Hello', 0), 'a-1:1');
    es.emit(complete(1, 'a-1'), 'a-1:2');
    expect(callbacks.onComplete).toHaveBeenCalledTimes(1);
    expect(callbacks.onCancelled).not.toHaveBeenCalled();
  });

  it('a stop while the POST is on its way names the answer by its client_message_id', async () => {
    const stops = recordStops();
    const turns = holdTurns();
    const callbacks = spyCallbacks();
    const stream = new ChatService().streamMessage('hi', { clientMessageId: 'cmid-5' }, callbacks);
    await vi.waitFor(() => {
      expect(turns.bodies).toHaveLength(1);
    });

    stream.stop();

    await vi.waitFor(() => {
      expect(callbacks.onCancelled).toHaveBeenCalledWith('');
    });
    expect(stops).toEqual(['send:cmid-5']);
    // The POST's late reply (the server stored the answer stopped) changes nothing.
    turns.release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(FakeEventSource.instances).toHaveLength(0);
    expect(callbacks.onStart).not.toHaveBeenCalled();
    expect(callbacks.onCancelled).toHaveBeenCalledTimes(1);
  });

  it('a stop while the POST is on its way, of an answer already running, ends with its stored text', async () => {
    server.use(
      http.post(`${API}/chat/cancel`, () =>
        HttpResponse.json(cancelled('assistant-1', 'Hel'), { status: 202 }),
      ),
    );
    const turns = holdTurns();
    const callbacks = spyCallbacks();
    const stream = new ChatService().streamMessage('hi', {}, callbacks);
    await vi.waitFor(() => {
      expect(turns.bodies).toHaveLength(1);
    });
    stream.stop();
    await vi.waitFor(() => {
      expect(callbacks.onCancelled).toHaveBeenCalledWith('Hel');
    });
    turns.release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(FakeEventSource.instances).toHaveLength(0);
  });

  it("a stop once the POST told the answer's id, before the stream's `start`, names it by its id", async () => {
    const stops = recordStops({ content: '' });
    recordTurns({ messageId: 'a-3' });
    const callbacks = spyCallbacks();
    const stream = new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();
    stream.stop();
    await vi.waitFor(() => {
      expect(callbacks.onCancelled).toHaveBeenCalledWith('');
    });
    expect(stops).toEqual(['answer:a-3']);
    expect(es.closed).toBe(true);
  });

  it('a stop while the token is being fetched never posts, opens the stream nor asks the server', async () => {
    const stops = recordStops();
    const turns = recordTurns();
    const callbacks = spyCallbacks();
    const stream = new ChatService().streamMessage('hi', {}, callbacks);
    stream.stop();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(turns).toEqual([]);
    expect(FakeEventSource.instances).toHaveLength(0);
    expect(stops).toEqual([]);
    expect(callbacks.onCancelled).toHaveBeenCalledWith('');
    expect(callbacks.onError).not.toHaveBeenCalled();
  });

  it('a refused stop still ends the turn as stopped, with the text it has', async () => {
    server.use(
      http.post(`${API}/chat/messages/:id/cancel`, () =>
        HttpResponse.json({ error: { code: 'not_found', message: 'Not found.' } }, { status: 404 }),
      ),
    );
    const callbacks = spyCallbacks();
    const stream = new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();
    es.emit(start('a-1'));
    stream.stop();
    await vi.waitFor(() => {
      expect(callbacks.onCancelled).toHaveBeenCalledWith(null);
    });
    expect(es.closed).toBe(true);
  });

  it('a stop the server never acknowledges ends on our side after STOP_ACK_TIMEOUT_MS', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      recordStops({ release: new Promise<void>(() => undefined) });
      const callbacks = spyCallbacks();
      const stream = new ChatService().streamMessage('hi', {}, callbacks);
      const es = await waitForEventSource();
      es.emit(start('a-1'));
      stream.stop();
      await vi.advanceTimersByTimeAsync(STOP_ACK_TIMEOUT_MS - 100);
      expect(callbacks.onCancelled).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(200);
      expect(callbacks.onCancelled).toHaveBeenCalledWith(null);
      expect(es.closed).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a connection lost while stopping waits for the acknowledgement instead of failing', async () => {
    let release = (): void => undefined;
    recordStops({ content: 'Hel', release: new Promise<void>((resolve) => (release = resolve)) });
    const callbacks = spyCallbacks();
    const stream = new ChatService().streamMessage('hi', { maxReconnects: 0 }, callbacks);
    const es = await waitForEventSource();
    es.emit(start('a-1'));
    stream.stop();
    es.drop();
    expect(callbacks.onError).not.toHaveBeenCalled();
    release();
    await vi.waitFor(() => {
      expect(callbacks.onCancelled).toHaveBeenCalledWith('Hel');
    });
    expect(callbacks.onError).not.toHaveBeenCalled();
  });
});

describe('ChatService.attachToAnswer', () => {
  it("opens the answer's own stream with a stream token: no message, nothing sent", async () => {
    const callbacks = spyCallbacks();
    new ChatService().attachToAnswer('a-42', callbacks);
    const es = await waitForEventSource();

    expect(es.pathname).toBe('/api/v1/chat/messages/a-42/stream');
    expect([...es.params.keys()]).toEqual(['token']);
    expect(es.params.get('token')).toBe('stream-token-1');

    es.emit(start('a-42', 'c-1'), 'a-42:0');
    es.emit(chunk('Hel', 0), 'a-42:1');
    es.emit(chunk('lo', 1), 'a-42:2');
    es.emit(complete(2, 'a-42', 'c-1'), 'a-42:3');
    expect(callbacks.onChunk).toHaveBeenCalledTimes(2);
    expect(callbacks.onComplete).toHaveBeenCalledWith(complete(2, 'a-42', 'c-1'));
    expect(es.closed).toBe(true);
  });

  it('reopens with a fresh token and last_event_id when a reconnect is refused', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const callbacks = spyCallbacks();
      new ChatService().attachToAnswer('a-42', callbacks);
      const es = await waitForEventSource();
      es.emit(start('a-42'), 'a-42:0');
      es.emit(chunk('Hel', 0), 'a-42:1');
      es.refuse();
      await vi.advanceTimersByTimeAsync(1_000);

      const reopened = await waitForEventSource(2);
      expect(reopened.pathname).toBe('/api/v1/chat/messages/a-42/stream');
      expect(reopened.params.get('last_event_id')).toBe('a-42:1');
      reopened.emit(chunk('lo', 1), 'a-42:2');
      reopened.emit(complete(2, 'a-42'), 'a-42:3');
      expect(callbacks.onChunk).toHaveBeenCalledTimes(2);
      expect(callbacks.onComplete).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('stop() names the followed answer by its id, even before its `start` event', async () => {
    const stops = recordStops({ content: 'So far' });
    const callbacks = spyCallbacks();
    const stream = new ChatService().attachToAnswer('a-42', callbacks);
    await waitForEventSource();
    stream.stop();
    await vi.waitFor(() => {
      expect(callbacks.onCancelled).toHaveBeenCalledWith('So far');
    });
    expect(stops).toEqual(['answer:a-42']);
  });

  it("an answer that is not the user's (404) is a failed start", async () => {
    const callbacks = spyCallbacks();
    new ChatService().attachToAnswer('someone-elses', callbacks);
    const es = await waitForEventSource();
    es.refuse();
    expect(callbacks.onError.mock.calls[0]?.[0]).toMatchObject({ code: 'stream_start_failed' });
  });
});

describe('ChatService.continueAnswer', () => {
  const continuedStart = { ...start('a-1', 'c-1'), prefix: 'Once upon' };

  it("opens the answer's continue stream with a plain token and reads the new run", async () => {
    const purposes = recordTokens();
    const callbacks = spyCallbacks();
    new ChatService().continueAnswer('a-1', callbacks);
    const es = await waitForEventSource();

    expect(es.pathname).toBe('/api/v1/chat/messages/a-1/continue');
    expect([...es.params.keys()]).toEqual(['token']);
    expect(purposes).toEqual(['send']);
    es.emit(continuedStart, 'a-1:4');
    es.emit(chunk(' a time', 2), 'a-1:5');
    const end = { ...complete(3, 'a-1', 'c-1'), content: 'Once upon a time' };
    es.emit(end, 'a-1:6');

    expect(callbacks.onStart).toHaveBeenCalledWith(continuedStart);
    expect(callbacks.onChunk).toHaveBeenCalledWith(chunk(' a time', 2));
    expect(callbacks.onComplete).toHaveBeenCalledWith(end);
    expect(es.closed).toBe(true);
  });

  it('a stop while the token is being fetched opens nothing and asks nothing', async () => {
    const stops = recordStops();
    const callbacks = spyCallbacks();
    new ChatService().continueAnswer('a-1', callbacks).stop();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(FakeEventSource.instances).toHaveLength(0);
    expect(stops).toEqual([]);
    expect(callbacks.onCancelled).toHaveBeenCalledWith(null);
  });

  it('a stop before `start` waits for it, then stops the continuation by the answer id', async () => {
    const stops = recordStops({ content: 'Once upon a' });
    const callbacks = spyCallbacks();
    const stream = new ChatService().continueAnswer('a-1', callbacks);
    const es = await waitForEventSource();
    stream.stop();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stops).toEqual([]);

    es.emit(continuedStart, 'a-1:4');
    await vi.waitFor(() => {
      expect(callbacks.onCancelled).toHaveBeenCalledWith('Once upon a');
    });
    expect(stops).toEqual(['answer:a-1']);
    expect(callbacks.onStart).toHaveBeenCalledTimes(1);
  });

  it('a stop before `start` whose connection is then lost still asks the server', async () => {
    const stops = recordStops({ content: 'Once upon' });
    const callbacks = spyCallbacks();
    const stream = new ChatService().continueAnswer('a-1', callbacks);
    const es = await waitForEventSource();
    stream.stop();
    es.refuse(); // it may have reached the server and started there
    await vi.waitFor(() => {
      expect(callbacks.onCancelled).toHaveBeenCalledWith('Once upon');
    });
    expect(stops).toEqual(['answer:a-1']);
    expect(callbacks.onError).not.toHaveBeenCalled();
  });
});

describe('ChatService: which stream token', () => {
  it('a send asks for a plain token before it posts: the limits refuse it before anything is stored', async () => {
    const order: string[] = [];
    server.use(
      http.post(`${API}/chat/stream-token`, ({ request }) => {
        order.push(`token:${new URL(request.url).searchParams.get('purpose') ?? 'send'}`);
        return HttpResponse.json({ token: 'send-token', expires_in: 300 });
      }),
      http.post(`${API}/chat/turns`, async ({ request }) => {
        order.push('turn');
        const body = (await request.json()) as StartTurnRequest;
        return HttpResponse.json(startedTurn(body), { status: 202 });
      }),
    );
    new ChatService().streamMessage('hi', {}, spyCallbacks());
    const es = await waitForEventSource();
    expect(order).toEqual(['token:send', 'turn']);
    expect(es.params.get('token')).toBe('send-token');
  });

  it('a send refused by the token (429) is never posted', async () => {
    recordTokens({ atLimit: true });
    const turns = recordTurns();
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', {}, callbacks);
    await vi.waitFor(() => {
      expect(callbacks.onError).toHaveBeenCalledTimes(1);
    });
    expect(turns).toEqual([]);
  });

  it('following an answer asks for a watch token, which no rate limit refuses', async () => {
    const purposes = recordTokens({ atLimit: true });
    const callbacks = spyCallbacks();
    new ChatService().attachToAnswer('a-42', callbacks);
    const es = await waitForEventSource();
    expect(purposes).toEqual(['watch']);
    expect(es.params.get('token')).toBe('watch-token');
    es.emit(start('a-42'), 'a-42:0');
    es.emit(complete(0, 'a-42'), 'a-42:1');
    expect(callbacks.onComplete).toHaveBeenCalledTimes(1);
    expect(callbacks.onError).not.toHaveBeenCalled();
  });

  it("a send's stream reopened by hand after its events came reads with a watch token", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const purposes = recordTokens();
      const callbacks = spyCallbacks();
      new ChatService().streamMessage('hi', {}, callbacks);
      const es = await waitForEventSource();
      const later = recordTokens({ atLimit: true }); // the send spent the hour's last message
      es.emit(start('a-1'), 'a-1:0');
      es.emit(chunk('Hel', 0), 'a-1:1');
      es.refuse();
      await vi.advanceTimersByTimeAsync(1_000);

      const reopened = await waitForEventSource(2);
      expect(purposes).toEqual(['send']);
      expect(later).toEqual(['watch']);
      expect(reopened.params.get('token')).toBe('watch-token');
      expect(reopened.params.get('last_event_id')).toBe('a-1:1');
      reopened.emit(complete(1, 'a-1'), 'a-1:2');
      expect(callbacks.onComplete).toHaveBeenCalledTimes(1);
      expect(callbacks.onError).not.toHaveBeenCalled();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('ChatService non-streaming and support checks', () => {
  it('sendMessage posts the message and returns both messages', async () => {
    let body: unknown = null;
    server.use(
      http.post(`${API}/chat/message`, async ({ request }) => {
        body = await request.json();
        return HttpResponse.json({
          conversation_id: 'conv-1',
          user_message: makeMessage({ role: 'user', content: 'hi' }),
          assistant_message: makeMessage({ content: 'Hello!' }),
          onboarding: null,
        });
      }),
    );
    const response = await new ChatService().sendMessage('hi', { conversationId: 'conv-1' });
    expect(response.assistant_message.content).toBe('Hello!');
    expect(body).toMatchObject({ message: 'hi', conversation_id: 'conv-1' });
    expect((body as { client_message_id: string }).client_message_id).toMatch(/-/);
    expect(body).not.toHaveProperty('regenerate');
  });

  it('sendMessage sends regenerate with the same client_message_id on a retry', async () => {
    const bodies: unknown[] = [];
    const answer = () =>
      HttpResponse.json({
        conversation_id: 'conv-1',
        user_message: makeMessage({ role: 'user' }),
        assistant_message: makeMessage(),
        onboarding: null,
      });
    server.use(
      http.post(`${API}/chat/message`, async ({ request }) => {
        bodies.push(await request.json());
        return answer();
      }),
      http.post(`${API}/chat/onboarding-message`, async ({ request }) => {
        bodies.push(await request.json());
        return answer();
      }),
    );
    const service = new ChatService();
    await service.sendMessage('q', { clientMessageId: 'cmid-2', regenerate: true });
    await service.sendMessage('a', {
      isOnboarding: true,
      clientMessageId: 'cmid-3',
      regenerate: true,
    });
    expect(bodies).toEqual([
      { message: 'q', conversation_id: null, client_message_id: 'cmid-2', regenerate: true },
      { message: 'a', client_message_id: 'cmid-3', regenerate: true },
    ]);
  });

  it('sendMessage uses the onboarding endpoint for onboarding', async () => {
    let body: unknown = null;
    server.use(
      http.post(`${API}/chat/onboarding-message`, async ({ request }) => {
        body = await request.json();
        return HttpResponse.json({
          conversation_id: 'onb',
          user_message: makeMessage({ role: 'user' }),
          assistant_message: makeMessage(),
          onboarding: { progress: 0.5, completed: false },
        });
      }),
    );
    const response = await new ChatService().sendMessage('Ada', { isOnboarding: true });
    expect(response.onboarding).toEqual({ progress: 0.5, completed: false });
    expect(body).not.toHaveProperty('conversation_id');
  });

  it('knows when EventSource is missing', () => {
    const service = new ChatService();
    expect(service.isStreamingSupported()).toBe(true);
    vi.stubGlobal('EventSource', undefined);
    expect(service.isStreamingSupported()).toBe(false);
  });
});

// Property 5: callback routing. Any sequence of events reaches exactly the matching callbacks,
// in order, and nothing after the terminal event is delivered. A send hears `start` from its
// POST's reply, so its stream's `start` events are not delivered again.
describe('Property: callback routing', () => {
  const eventArb: fc.Arbitrary<StreamEvent> = fc.oneof(
    fc.record({
      type: fc.constant('start' as const),
      message_id: fc.uuid(),
      conversation_id: fc.uuid(),
      user_message_id: fc.uuid(),
    }),
    fc.record({
      type: fc.constant('chunk' as const),
      content: fc.string(),
      index: fc.constant(0),
    }),
    fc.record({
      type: fc.constant('complete' as const),
      message_id: fc.uuid(),
      conversation_id: fc.uuid(),
      chunks: fc.nat(),
      finish_reason: fc.constantFrom('stop', 'length'),
      onboarding: fc.option(
        fc.record({
          progress: fc.double({ min: 0, max: 1, noNaN: true }),
          completed: fc.boolean(),
        }),
      ),
    }),
    fc.record({
      type: fc.constant('error' as const),
      code: fc.constantFrom(
        'llm_error',
        'timeout',
        'rate_limited',
        'internal',
        'cancelled' as const,
      ),
      message: fc.string(),
      retryable: fc.boolean(),
    }),
  );

  it('delivers each event to exactly its callback, and nothing after the terminal one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('send', 'attach'),
        fc.array(eventArb, { maxLength: 25 }),
        async (kind, events) => {
          FakeEventSource.reset();
          const calls: string[] = [];
          const callbacks: StreamCallbacks = {
            onStart: (e) => calls.push(`start:${e.message_id}`),
            onChunk: (e) => calls.push(`chunk:${e.content}`),
            onComplete: (e) => calls.push(`complete:${e.message_id}`),
            onError: (e) => calls.push(`error:${e.code}`),
            onCancelled: () => calls.push('error:cancelled'),
          };
          if (kind === 'send') new ChatService().streamMessage('q', {}, callbacks);
          else new ChatService().attachToAnswer('assistant-1', callbacks);
          const es = await waitForEventSource();

          let index = 0;
          const sent = events.map((event) =>
            event.type === 'chunk' ? { ...event, index: index++ } : event,
          );
          for (const event of sent) es.emit(event);

          const terminal = sent.findIndex((e) => e.type === 'complete' || e.type === 'error');
          const upToEnd = terminal === -1 ? sent : sent.slice(0, terminal + 1);
          const delivered = kind === 'send' ? upToEnd.filter((e) => e.type !== 'start') : upToEnd;
          const told = kind === 'send' ? ['start:assistant-1'] : [];
          const expected = told.concat(
            delivered.map((e) => {
              switch (e.type) {
                case 'start':
                  return `start:${e.message_id}`;
                case 'chunk':
                  return `chunk:${e.content}`;
                case 'complete':
                  return `complete:${e.message_id}`;
                case 'error':
                  return `error:${e.code}`;
                case 'queued': // not generated here: a place in line has a test of its own
                  throw new Error('unexpected queued event');
              }
            }),
          );
          expect(calls).toEqual(expected);
          expect(es.closed).toBe(terminal !== -1);
        },
      ),
      { numRuns: 100 },
    );
  });
});
