import fc from 'fast-check';
import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';

import type { StreamEvent } from '../api/events';
import { FakeEventSource } from '../test/FakeEventSource';
import { chunk, complete, signIn, start, waitForEventSource } from '../test/helpers';
import { API, makeMessage, server } from '../test/server';

import type { StreamCallbacks } from './chatService';
import { ChatService, MAX_STREAM_URL_LENGTH } from './chatService';

function spyCallbacks() {
  return {
    onStart: vi.fn(),
    onChunk: vi.fn(),
    onComplete: vi.fn(),
    onError: vi.fn(),
  } satisfies StreamCallbacks;
}

/** Records the ids of cancel requests the server receives. */
function recordCancels(): string[] {
  const cancelled: string[] = [];
  server.use(
    http.post(`${API}/chat/messages/:id/cancel`, ({ params }) => {
      cancelled.push(String(params.id));
      return HttpResponse.json({ message_id: params.id, status: 'cancelled' }, { status: 202 });
    }),
  );
  return cancelled;
}

beforeEach(() => {
  signIn();
});

describe('ChatService.streamMessage', () => {
  it('opens the stream with a stream token and a fresh client_message_id in the query', async () => {
    const service = new ChatService();
    service.streamMessage('Hello there?', { conversationId: 'conv-9' }, spyCallbacks());
    const es = await waitForEventSource();

    expect(es.pathname).toBe('/api/v1/chat/stream');
    expect(es.params.get('message')).toBe('Hello there?');
    expect(es.params.get('token')).toBe('stream-token-1');
    expect(es.params.get('conversation_id')).toBe('conv-9');
    expect(es.params.get('client_message_id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(es.params.has('last_event_id')).toBe(false);
    expect(es.params.has('regenerate')).toBe(false);

    service.streamMessage('again', {}, spyCallbacks());
    const second = await waitForEventSource(2);
    expect(second.params.get('client_message_id')).not.toBe(es.params.get('client_message_id'));
  });

  it('a retry repeats the client_message_id with regenerate=true', async () => {
    new ChatService().streamMessage(
      'Again?',
      { clientMessageId: 'cmid-1', regenerate: true },
      spyCallbacks(),
    );
    const es = await waitForEventSource();
    expect(es.params.get('client_message_id')).toBe('cmid-1');
    expect(es.params.get('regenerate')).toBe('true');
  });

  it('never puts the access token in the stream URL', async () => {
    new ChatService().streamMessage('hi', {}, spyCallbacks());
    const es = await waitForEventSource();
    expect(es.url).not.toContain('access-token-1');
  });

  it('uses the onboarding endpoint, without a conversation id, for onboarding', async () => {
    new ChatService().streamMessage(
      'I am Ada',
      { isOnboarding: true, conversationId: 'ignored' },
      spyCallbacks(),
    );
    const es = await waitForEventSource();
    expect(es.pathname).toBe('/api/v1/chat/onboarding-stream');
    expect(es.params.has('conversation_id')).toBe(false);
  });

  it('routes start and chunk events to their callbacks with their data', async () => {
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
    expect(service.hasActiveStream).toBe(false);
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
    });
    expect(es.closed).toBe(true);
    expect(callbacks.onComplete).not.toHaveBeenCalled();
  });

  it('reports a refused start (error before any event) as a retryable failure', async () => {
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

  it('gives up after a bounded number of failed reconnects and reports the loss', async () => {
    const callbacks = spyCallbacks();
    new ChatService().streamMessage('hi', { maxReconnects: 2 }, callbacks);
    const es = await waitForEventSource();
    es.emit(start());

    es.drop();
    es.drop();
    expect(callbacks.onError).not.toHaveBeenCalled();
    es.drop();

    expect(callbacks.onError).toHaveBeenCalledTimes(1);
    expect(callbacks.onError.mock.calls[0]?.[0]).toMatchObject({
      code: 'connection_lost',
      retryable: true,
    });
    expect(es.closed).toBe(true);
  });

  it('reopens by hand with a fresh token and last_event_id when a reconnect is refused', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const callbacks = spyCallbacks();
      new ChatService().streamMessage('hi', {}, callbacks);
      const es = await waitForEventSource();
      es.emit(start('a-1'), 'a-1:0');
      es.emit(chunk('Hel', 0), 'a-1:1');

      es.refuse(); // e.g. the stream token expired before the reconnect
      expect(es.closed).toBe(true);
      await vi.advanceTimersByTimeAsync(1_000);

      const reopened = await waitForEventSource(2);
      expect(reopened.params.get('last_event_id')).toBe('a-1:1');
      expect(reopened.params.get('client_message_id')).toBe(es.params.get('client_message_id'));
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

describe('ChatService cancellation', () => {
  it('the returned function closes the connection and asks the server to cancel', async () => {
    const cancelled = recordCancels();
    const callbacks = spyCallbacks();
    const service = new ChatService();
    const cancel = service.streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();
    es.emit(start('a-7'));
    es.emit(chunk('partial', 0));

    cancel();

    expect(es.closed).toBe(true);
    expect(service.hasActiveStream).toBe(false);
    await vi.waitFor(() => {
      expect(cancelled).toEqual(['a-7']);
    });
    es.emit(chunk(' more', 1)); // a late event after cancel reaches nobody
    expect(callbacks.onChunk).toHaveBeenCalledTimes(1);
    expect(callbacks.onComplete).not.toHaveBeenCalled();
    expect(callbacks.onError).not.toHaveBeenCalled();
  });

  it('cancelStream() closes the active stream, clears it and cancels on the server', async () => {
    const cancelled = recordCancels();
    const service = new ChatService();
    service.streamMessage('hi', {}, spyCallbacks());
    const es = await waitForEventSource();
    es.emit(start('a-8'));
    expect(service.hasActiveStream).toBe(true);

    service.cancelStream();

    expect(es.closed).toBe(true);
    expect(service.hasActiveStream).toBe(false);
    await vi.waitFor(() => {
      expect(cancelled).toEqual(['a-8']);
    });
  });

  it('a cancel before `start` waits for the message id, then cancels it on the server', async () => {
    const cancelled = recordCancels();
    const callbacks = spyCallbacks();
    const cancel = new ChatService().streamMessage('hi', {}, callbacks);
    const es = await waitForEventSource();

    cancel();
    expect(es.closed).toBe(false); // still listening, only to learn the id
    es.emit(start('a-late'));

    expect(es.closed).toBe(true);
    expect(callbacks.onStart).not.toHaveBeenCalled();
    await vi.waitFor(() => {
      expect(cancelled).toEqual(['a-late']);
    });
  });

  it('a cancel while the token is being fetched never opens the stream', async () => {
    const callbacks = spyCallbacks();
    const cancel = new ChatService().streamMessage('hi', {}, callbacks);
    cancel();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(FakeEventSource.instances).toHaveLength(0);
    expect(callbacks.onError).not.toHaveBeenCalled();
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

  it('says a very long message does not fit in a stream URL', () => {
    const service = new ChatService();
    expect(service.fitsInStreamUrl('short question')).toBe(true);
    expect(service.fitsInStreamUrl('é'.repeat(MAX_STREAM_URL_LENGTH))).toBe(false);
  });
});

// Property 5: callback routing. Any sequence of events reaches exactly the matching callbacks,
// in order, and nothing after the terminal event is delivered.
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
      fc.asyncProperty(fc.array(eventArb, { maxLength: 25 }), async (events) => {
        FakeEventSource.reset();
        const calls: string[] = [];
        const callbacks: StreamCallbacks = {
          onStart: (e) => calls.push(`start:${e.message_id}`),
          onChunk: (e) => calls.push(`chunk:${e.content}`),
          onComplete: (e) => calls.push(`complete:${e.message_id}`),
          onError: (e) => calls.push(`error:${e.code}`),
        };
        new ChatService().streamMessage('q', {}, callbacks);
        const es = await waitForEventSource();

        let index = 0;
        const sent = events.map((event) =>
          event.type === 'chunk' ? { ...event, index: index++ } : event,
        );
        for (const event of sent) es.emit(event);

        const terminal = sent.findIndex((e) => e.type === 'complete' || e.type === 'error');
        const delivered = terminal === -1 ? sent : sent.slice(0, terminal + 1);
        const expected = delivered.map((e) => {
          switch (e.type) {
            case 'start':
              return `start:${e.message_id}`;
            case 'chunk':
              return `chunk:${e.content}`;
            case 'complete':
              return `complete:${e.message_id}`;
            case 'error':
              return `error:${e.code}`;
          }
        });
        expect(calls).toEqual(expected);
        expect(es.closed).toBe(terminal !== -1);
      }),
      { numRuns: 100 },
    );
  });
});
