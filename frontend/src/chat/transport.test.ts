// ChatSession over the real transports: ChatService with the EventSource double and MSW, so
// the send's POST, reconnects, resumes, following an answer, continuing a stopped one, stopping
// it on the server, and the streaming-refused fallback are seen whole.

import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';

import type { SendMessageResponse, StartTurnRequest } from '../api/types';
import { openAnswerChannel } from '../services/answerChannel';
import { ChatService } from '../services/chatService';
import { RECONNECT_WINDOW_MS } from '../services/streamConnection';
import { FakeEventSource } from '../test/FakeEventSource';
import { manualFrames } from '../test/frames';
import { chunk, complete, signIn, start, waitForEventSource } from '../test/helpers';
import { API, cancelled, makeMessage, recordTurns, server, startedTurn } from '../test/server';

import { ChatSession } from './ChatSession';
import type { ChatSessionOptions } from './ChatSession';
import { errorText } from './messages';
import { StreamingTransport, WholeAnswerTransport } from './transport';

function setup(options: Partial<ChatSessionOptions> = {}) {
  const frames = manualFrames();
  const service = new ChatService();
  const whole = new WholeAnswerTransport(service);
  const session = new ChatSession({
    isOnboarding: false,
    transport: new StreamingTransport(service),
    fallback: whole,
    ...options,
  });
  const answer = () => session.getSnapshot().messages[1];
  return { session, whole, frames, answer };
}

/** Records the stops the server receives: `answer:<id>` or `send:<client_message_id>`. */
function recordStops(content = ''): string[] {
  const stops: string[] = [];
  server.use(
    http.post(`${API}/chat/messages/:id/cancel`, ({ params }) => {
      stops.push(`answer:${String(params.id)}`);
      return HttpResponse.json(cancelled(String(params.id), content), { status: 202 });
    }),
    http.post(`${API}/chat/cancel`, async ({ request }) => {
      const body = (await request.json()) as { client_message_id: string };
      stops.push(`send:${body.client_message_id}`);
      return HttpResponse.json(cancelled(null), { status: 202 });
    }),
  );
  return stops;
}

const CANCELLED_EVENT = {
  type: 'error',
  code: 'cancelled',
  message: 'This answer was stopped.',
  retryable: false,
} as const;

function wholeAnswer(content: string): SendMessageResponse {
  return {
    conversation_id: 'conv-1',
    user_message: makeMessage({ id: 'u-1', role: 'user', content: 'q' }),
    assistant_message: makeMessage({ id: 'a-1', content }),
    onboarding: null,
  };
}

beforeEach(() => {
  signIn();
});

describe('ChatSession over SSE: the send', () => {
  it('posts the message, shows the ids the server gave, and streams the answer by its id', async () => {
    const turns = recordTurns({ messageId: 'a-1', conversationId: 'conv-1' });
    const { session, frames, answer } = setup();
    const message = '😀'.repeat(8_000);
    session.send(message);
    const es = await waitForEventSource();
    expect(turns).toEqual([
      {
        message,
        client_message_id: session.getSnapshot().messages[0]?.clientMessageId,
        kind: 'chat',
        conversation_id: null,
      },
    ]);
    expect(es.pathname).toBe('/api/v1/chat/messages/a-1/stream');
    expect(session.getSnapshot().conversationId).toBe('conv-1');
    expect(session.getSnapshot().messages.map((m) => [m.role, m.serverId])).toEqual([
      ['user', 'user-of-a-1'],
      ['assistant', 'a-1'],
    ]);
    frames.flush(); // the frame that paints the start (the POST's reply)
    es.emit(start('a-1'), 'a-1:0');
    es.emit(chunk('Nice emoji.', 0), 'a-1:1');
    es.emit(complete(1, 'a-1'), 'a-1:2');
    frames.flush();
    expect(answer()).toMatchObject({ content: 'Nice emoji.', status: 'complete' });
    expect(session.getSnapshot().messages[0]?.content).toBe(message);
  });

  it("a send refused as too long (413) gives its text back with the server's message: no bubble, no stream", async () => {
    const tooLong = 'The message is 8001 characters long; the limit is 8000.';
    server.use(
      http.post(`${API}/chat/turns`, () =>
        HttpResponse.json(
          { error: { code: 'message_too_long', message: tooLong } },
          { status: 413 },
        ),
      ),
    );
    const onSendRefused = vi.fn();
    const onSendAccepted = vi.fn();
    const { session } = setup({ onSendRefused, onSendAccepted });
    session.send('x'.repeat(8_001));
    await vi.waitFor(() => {
      expect(session.getSnapshot().sendError).not.toBeNull();
    });
    expect(session.getSnapshot()).toMatchObject({
      messages: [], // nothing was stored: nothing stays on screen as if it had been
      status: 'idle',
      error: null,
      sendError: { code: 'message_too_long', message: tooLong, retryable: false },
      conversationId: null,
    });
    expect(onSendRefused).toHaveBeenCalledExactlyOnceWith(
      'x'.repeat(8_001),
      expect.objectContaining({ code: 'message_too_long' }),
    );
    expect(onSendAccepted).not.toHaveBeenCalled();
    expect(FakeEventSource.instances).toHaveLength(0);
  });

  it('tells once that a new message was accepted, when its answer starts; a retry is no new message', async () => {
    recordTurns({ messageId: 'a-1' });
    const onSendAccepted = vi.fn();
    const { session } = setup({ onSendAccepted });
    session.send('Kept until now');
    const es = await waitForEventSource();
    expect(onSendAccepted).toHaveBeenCalledExactlyOnceWith('Kept until now');
    es.emit(start('a-1'), 'a-1:0');
    es.emit({ type: 'error', code: 'llm_error', message: 'x', retryable: true }, 'a-1:1');
    expect(session.retryLastMessage()).toBe(true);
    await waitForEventSource(2);
    expect(onSendAccepted).toHaveBeenCalledTimes(1);
  });

  it('a send whose reply was lost keeps its bubble and Retry: it counts as accepted', async () => {
    server.use(http.post(`${API}/chat/turns`, () => HttpResponse.error()));
    const onSendAccepted = vi.fn();
    const onSendRefused = vi.fn();
    const { session, answer } = setup({ onSendAccepted, onSendRefused });
    session.send('Maybe stored');
    await vi.waitFor(() => {
      expect(answer()?.error?.code).toBe('network_error');
    });
    expect(onSendAccepted).toHaveBeenCalledExactlyOnceWith('Maybe stored');
    expect(onSendRefused).not.toHaveBeenCalled();
  });

  it('a send refused at the rate limit gives its text back, and the next send clears the reason', async () => {
    server.use(
      http.post(
        `${API}/chat/stream-token`,
        () =>
          HttpResponse.json(
            { error: { code: 'rate_limited', message: 'Too many messages.' } },
            { status: 429, headers: { 'Retry-After': '60' } },
          ),
        { once: true },
      ),
    );
    recordTurns({ messageId: 'a-1' });
    const onSendRefused = vi.fn();
    const { session } = setup({ onSendRefused });
    session.send('Kept for later');
    await vi.waitFor(() => {
      expect(onSendRefused).toHaveBeenCalledTimes(1);
    });
    expect(onSendRefused.mock.calls[0]?.[0]).toBe('Kept for later');
    expect(session.getSnapshot().sendError).toMatchObject({
      code: 'rate_limited',
      retryAfterS: 60,
      refused: true,
    });
    expect(session.getSnapshot().sendError?.message).toMatch(/Try again in 60 seconds/);
    expect(session.getSnapshot().messages).toEqual([]);

    expect(session.send('Kept for later')).toBe(true);
    expect(session.getSnapshot().sendError).toBeNull();
    await waitForEventSource();
    expect(session.getSnapshot().messages.map((m) => m.role)).toEqual(['user', 'assistant']);
  });

  it('answers whole when the POST is refused with 403 streaming_disabled, with the same client_message_id', async () => {
    let posted: unknown = null;
    const turns: StartTurnRequest[] = [];
    server.use(
      http.post(`${API}/chat/turns`, async ({ request }) => {
        turns.push((await request.json()) as StartTurnRequest);
        return HttpResponse.json(
          { error: { code: 'streaming_disabled', message: 'Streaming is off.' } },
          { status: 403 },
        );
      }),
      http.post(`${API}/chat/message`, async ({ request }) => {
        posted = await request.json();
        return HttpResponse.json(wholeAnswer('The whole answer.'));
      }),
    );
    const { session, answer } = setup();
    session.send('q');
    await vi.waitFor(() => {
      expect(answer()?.content).toBe('The whole answer.');
    });
    expect(posted).toMatchObject({ message: 'q', client_message_id: turns[0]?.client_message_id });
    expect(FakeEventSource.instances).toHaveLength(0);
    expect(session.getSnapshot()).toMatchObject({ status: 'idle', isStreamingMode: false });
  });

  it('a send that reached the server but whose reply was lost is repeated, by Retry, as the same turn', async () => {
    const bodies: StartTurnRequest[] = [];
    server.use(
      http.post(`${API}/chat/turns`, async ({ request }) => {
        const body = (await request.json()) as StartTurnRequest;
        bodies.push(body);
        // The first reply never arrives (the network failed after the server stored the turn).
        if (bodies.length === 1) return HttpResponse.error();
        return HttpResponse.json(startedTurn(body, { messageId: 'a-1' }), { status: 202 });
      }),
    );
    const { session, answer } = setup();
    session.send('q');
    await vi.waitFor(() => {
      expect(answer()?.error?.code).toBe('network_error');
    });
    expect(answer()?.error?.retryable).toBe(true);
    expect(session.retryLastMessage()).toBe(true);
    const es = await waitForEventSource();
    expect(es.pathname).toBe('/api/v1/chat/messages/a-1/stream');
    expect(bodies.map((b) => b.client_message_id)).toEqual([
      bodies[0]?.client_message_id,
      bodies[0]?.client_message_id,
    ]);
    expect(bodies[1]?.regenerate).toBe(true);
    expect(session.getSnapshot().messages.filter((m) => m.role === 'user')).toHaveLength(1);
  });
});

describe('ChatSession over SSE: reconnect and resume', () => {
  it('keeps going after a transient drop, without applying a replayed chunk twice', async () => {
    recordTurns({ messageId: 'a-1' });
    const { session, frames, answer } = setup();
    session.send('hi');
    const es = await waitForEventSource();
    es.emit(start('a-1'), 'a-1:0');
    frames.flush(); // the frame that paints the start
    es.emit(chunk('Hel', 0), 'a-1:1');
    frames.flush();
    expect(answer()?.content).toBe('Hel');

    es.drop(); // the browser reconnects with Last-Event-ID; the server resumes after it
    es.emit(chunk('Hel', 0), 'a-1:1');
    es.emit(chunk('lo', 1), 'a-1:2');
    es.emit(complete(2, 'a-1'), 'a-1:3');
    frames.flush(); // text was shown at the last frame: the end comes with the next one

    expect(answer()).toMatchObject({ content: 'Hello', status: 'complete', serverId: 'a-1' });
    expect(session.getSnapshot().status).toBe('idle');
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it('reopens by hand with a fresh token and last_event_id when a reconnect is refused', async () => {
    const turns = recordTurns({ messageId: 'a-1' });
    const { session, answer, frames } = setup();
    session.send('hi');
    const es = await waitForEventSource();
    frames.flush(); // the frame that paints the start (the POST's reply)
    es.emit(start('a-1'), 'a-1:0');
    es.emit(chunk('Hel', 0), 'a-1:1');

    es.refuse(); // e.g. the stream token expired before the browser's reconnect
    const reopened = await waitForEventSource(2);
    expect(reopened.pathname).toBe('/api/v1/chat/messages/a-1/stream');
    expect(reopened.params.get('last_event_id')).toBe('a-1:1');
    expect(turns).toHaveLength(1);
    reopened.emit(chunk('lo', 1), 'a-1:2');
    reopened.emit(complete(2, 'a-1'), 'a-1:3');

    expect(answer()).toMatchObject({ content: 'Hello', status: 'complete' });
    expect(session.getSnapshot().messages).toHaveLength(2);
  });

  it('reports a connection lost for good as a retryable error; retry regenerates', async () => {
    const turns = recordTurns({ messageId: 'a-1' });
    const { session, answer } = setup();
    session.send('hi');
    const es = await waitForEventSource();
    es.emit(start('a-1'));
    es.emit(chunk('Part', 0));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      server.use(http.post(`${API}/chat/stream-token`, () => HttpResponse.error()));
      es.drop();
      expect(answer()).toMatchObject({ isStreaming: true, isReconnecting: true });
      es.drop();
      await vi.advanceTimersByTimeAsync(RECONNECT_WINDOW_MS + 10_000);
    } finally {
      vi.useRealTimers();
    }
    server.use(
      http.post(`${API}/chat/stream-token`, () =>
        HttpResponse.json({ token: 'back', expires_in: 300 }),
      ),
    );
    expect(turns).toHaveLength(1);

    expect(answer()).toMatchObject({
      content: 'Part',
      status: 'error',
      isReconnecting: false,
      error: { code: 'connection_lost', retryable: true },
    });
    expect(session.retryLastMessage()).toBe(true);
    await waitForEventSource(2);
    expect(turns).toHaveLength(2);
    expect(turns[1]?.client_message_id).toBe(turns[0]?.client_message_id);
    expect(turns[0]?.regenerate).toBeUndefined();
    expect(turns[1]?.regenerate).toBe(true);
  });

  it('stop() stops the answer on the server and shows the text the server stored', async () => {
    const stops = recordStops('Once upon');
    recordTurns({ messageId: 'a-7' });
    const { session, answer } = setup();
    session.send('Tell me a story');
    const es = await waitForEventSource();
    es.emit(start('a-7'));
    es.emit(chunk('Once', 0));

    session.stop();
    expect(session.getSnapshot().status).toBe('streaming'); // until the server says it stopped
    await vi.waitFor(() => {
      expect(answer()).toMatchObject({ content: 'Once upon', status: 'cancelled' });
    });
    expect(stops).toEqual(['answer:a-7']);
    expect(es.closed).toBe(true);
    expect(session.getSnapshot()).toMatchObject({ status: 'idle', error: null });
  });

  it("a stop while the send's POST is on its way names the answer by its client_message_id", async () => {
    const stops = recordStops();
    let posted = (): void => undefined;
    const reached = new Promise<void>((resolve) => (posted = resolve));
    server.use(
      http.post(`${API}/chat/turns`, () => {
        posted();
        return new Promise<Response>(() => undefined); // its reply never comes
      }),
    );
    const { session, answer } = setup();
    session.send('Tell me a story');
    await reached;
    session.stop();
    await vi.waitFor(() => {
      expect(answer()).toMatchObject({ content: '', status: 'cancelled' });
    });
    const sent = session.getSnapshot().messages[0]?.clientMessageId ?? '';
    expect(stops).toEqual([`send:${sent}`]);
    expect(session.getSnapshot()).toMatchObject({ status: 'idle', error: null });
    expect(FakeEventSource.instances).toHaveLength(0);
  });

  it('leaving the conversation closes the stream and leaves the answer running', async () => {
    const stops = recordStops();
    recordTurns({ messageId: 'a-7' });
    const { session } = setup();
    session.send('Tell me a story');
    const es = await waitForEventSource();
    es.emit(start('a-7', 'conv-1'));
    session.openConversation('conv-2');
    expect(es.closed).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stops).toEqual([]);
  });

  it('answers whole when the server refuses to stream (403 streaming_disabled)', async () => {
    const posted = vi.fn();
    server.use(
      http.post(`${API}/chat/stream-token`, () =>
        HttpResponse.json(
          { error: { code: 'streaming_disabled', message: 'Streaming is off.' } },
          { status: 403 },
        ),
      ),
      http.post(`${API}/chat/message`, async ({ request }) => {
        posted(await request.json());
        return HttpResponse.json(wholeAnswer('The whole answer.'));
      }),
    );
    const { session, answer } = setup();
    session.send('q');
    await vi.waitFor(() => {
      expect(answer()?.content).toBe('The whole answer.');
    });
    expect(FakeEventSource.instances).toHaveLength(0);
    expect(posted).toHaveBeenCalledTimes(1);
    expect(session.getSnapshot()).toMatchObject({ status: 'idle', isStreamingMode: false });
  });
});

describe('ChatSession following an answer it did not send', () => {
  it('opening a conversation whose answer is still written follows it, without doubling the stored text', async () => {
    const { session, frames, answer } = setup({ conversationId: 'conv-1' });
    session.showLatestPage({
      items: [
        makeMessage({ id: 'u-1', role: 'user', content: 'Tell me' }),
        makeMessage({ id: 'a-1', content: 'Once up', status: 'streaming', completed_at: null }),
      ],
      has_more: false,
    });
    const es = await waitForEventSource();
    expect(es.pathname).toBe('/api/v1/chat/messages/a-1/stream');
    expect(answer()).toMatchObject({ isStreaming: true, content: 'Once up' });

    // The stream tells the answer from its first chunk, the stored part included.
    es.emit(start('a-1', 'conv-1'), 'a-1:0');
    frames.flush(); // the frame that paints the start
    es.emit(chunk('Once ', 0), 'a-1:1');
    es.emit(chunk('upon', 1), 'a-1:2');
    frames.flush();
    expect(answer()?.content).toBe('Once upon');
    es.emit(chunk(' a time', 2), 'a-1:3');
    es.emit(complete(3, 'a-1', 'conv-1'), 'a-1:4');
    frames.flush(); // text was shown at the last frame: the end comes with the next one
    expect(answer()).toMatchObject({
      content: 'Once upon a time',
      status: 'complete',
      isStreaming: false,
    });
    expect(session.getSnapshot().messages).toHaveLength(2);
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it('a tab sees the answer another tab started, and a Stop there ends it here too', async () => {
    const stops = recordStops('Once upon');
    recordTurns({ messageId: 'a-9', conversationId: 'conv-1' });
    const sender = setup({ conversationId: 'conv-1', channel: openAnswerChannel() });
    const watcher = setup({ conversationId: 'conv-1', channel: openAnswerChannel() });
    const stopWatching = watcher.session.watchOtherTabs();
    sender.session.send('Tell me a story');
    const sent = await waitForEventSource();
    sent.emit(start('a-9', 'conv-1'), 'a-9:0');
    sent.emit(chunk('Once', 0), 'a-9:1');

    const followed = await waitForEventSource(2);
    expect(followed.pathname).toBe('/api/v1/chat/messages/a-9/stream');
    expect(watcher.session.getSnapshot().messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Tell me a story'],
      ['assistant', ''],
    ]);
    expect(watcher.session.getSnapshot().status).toBe('streaming');
    expect(watcher.session.send('Me too')).toBe(false); // one answer at a time, in either tab
    followed.emit(start('a-9', 'conv-1'), 'a-9:0');
    followed.emit(chunk('Once', 0), 'a-9:1');

    watcher.session.stop();
    await vi.waitFor(() => {
      expect(watcher.answer()).toMatchObject({ content: 'Once upon', status: 'cancelled' });
    });
    expect(stops).toEqual(['answer:a-9']);
    // The server ends every reader's stream: the sending tab stops too.
    sent.emit(chunk(' upon', 1), 'a-9:2');
    sent.emit(CANCELLED_EVENT, 'a-9:3');
    expect(sender.answer()).toMatchObject({ content: 'Once upon', status: 'cancelled' });
    expect(sender.session.getSnapshot()).toMatchObject({ status: 'idle', error: null });
    stopWatching();
  });
});

describe('ChatSession continuing a stopped answer over SSE', () => {
  const stoppedPage = {
    items: [
      makeMessage({ id: 'u-1', role: 'user', content: 'Tell me' }),
      makeMessage({ id: 'a-1', content: 'Once upon', status: 'cancelled' as const }),
    ],
    has_more: false,
  };
  // The stopped run was start a-1:0, chunks a-1:1 and a-1:2, its terminal a-1:3; a Continue's
  // events go on from there (docs/api.md, "Continue"): its chunks' index from the stored ones.
  const continuedStart = { ...start('a-1', 'conv-1'), prefix: 'Once upon' };
  const continuedEnd = { ...complete(4, 'a-1', 'conv-1'), content: 'Once upon a time.' };

  /** Records the purpose of each stream token asked for (`send` for the plain request). */
  function recordTokenPurposes(): string[] {
    const purposes: string[] = [];
    server.use(
      http.post(`${API}/chat/stream-token`, ({ request }) => {
        const purpose = new URL(request.url).searchParams.get('purpose') ?? 'send';
        purposes.push(purpose);
        return HttpResponse.json({ token: `${purpose}-token`, expires_in: 300 });
      }),
    );
    return purposes;
  }

  it('streams the rest into the same bubble, ends on the stored whole, and another tab follows', async () => {
    const purposes = recordTokenPurposes();
    const tab = setup({ conversationId: 'conv-1', channel: openAnswerChannel() });
    const other = setup({ conversationId: 'conv-1', channel: openAnswerChannel() });
    const stopWatching = other.session.watchOtherTabs();
    // Animation frames are one queue for both tabs: the last setup() installed it.
    const flushFrames = other.frames.flush;
    tab.session.showLatestPage(stoppedPage);
    other.session.showLatestPage(stoppedPage);

    expect(tab.session.continueLastAnswer()).toBe(true);
    const es = await waitForEventSource();
    expect(es.pathname).toBe('/api/v1/chat/messages/a-1/continue');
    expect([...es.params.keys()]).toEqual(['token']);
    expect(purposes).toEqual(['send']); // a Continue is a message for the rate limits

    es.emit(continuedStart, 'a-1:4');
    flushFrames(); // the frame that paints the start
    es.emit(chunk(' a', 2), 'a-1:5');
    flushFrames();
    expect(tab.answer()).toMatchObject({ content: 'Once upon a', isStreaming: true });

    // The other tab heard of it, and follows the answer by its own stream.
    const followed = await waitForEventSource(2);
    expect(followed.pathname).toBe('/api/v1/chat/messages/a-1/stream');
    expect(purposes).toEqual(['send', 'watch']);
    followed.emit(continuedStart, 'a-1:4');
    flushFrames(); // the frame that paints its start
    followed.emit(chunk(' a', 2), 'a-1:5');

    for (const source of [es, followed]) source.emit(chunk(' time', 3), 'a-1:6');
    flushFrames();
    expect(other.answer()?.content).toBe('Once upon a time');
    for (const source of [es, followed]) source.emit(continuedEnd, 'a-1:7');
    flushFrames(); // text was shown at the last frame: the ends come with the next one
    for (const session of [tab.session, other.session]) {
      expect(session.getSnapshot().messages.map((m) => [m.role, m.content, m.status])).toEqual([
        ['user', 'Tell me', 'complete'],
        ['assistant', 'Once upon a time.', 'complete'],
      ]);
      expect(session.getSnapshot().status).toBe('idle');
    }
    expect(es.closed && followed.closed).toBe(true);
    stopWatching();
  });

  it('a refused reconnect reopens the continuation after its last event, with a watch token', async () => {
    const purposes = recordTokenPurposes();
    const { session, answer, frames } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(stoppedPage);
    session.continueLastAnswer();
    const es = await waitForEventSource();
    es.emit(continuedStart, 'a-1:4');
    frames.flush(); // the frame that paints the start
    es.emit(chunk(' a', 2), 'a-1:5');

    es.refuse(); // the stream token expired before the browser's reconnect
    const reopened = await waitForEventSource(2);
    expect(reopened.pathname).toBe('/api/v1/chat/messages/a-1/continue');
    expect(reopened.params.get('last_event_id')).toBe('a-1:5');
    expect(purposes).toEqual(['send', 'watch']); // resuming it is no new message
    reopened.emit(chunk(' time', 3), 'a-1:6');
    reopened.emit(continuedEnd, 'a-1:7');
    expect(answer()).toMatchObject({ content: 'Once upon a time.', status: 'complete' });
  });

  it('Stop while the Continue is on its way stops the continuation once it has started', async () => {
    const stops = recordStops('Once upon a');
    const { session, answer } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(stoppedPage);
    session.continueLastAnswer();
    const es = await waitForEventSource();

    session.stop();
    // Asked now, the server would find the answer still stopped, then start the continuation.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stops).toEqual([]);
    es.emit(continuedStart, 'a-1:4');
    await vi.waitFor(() => {
      expect(answer()).toMatchObject({ content: 'Once upon a', status: 'cancelled' });
    });
    expect(stops).toEqual(['answer:a-1']);
    expect(es.closed).toBe(true);
    expect(session.getSnapshot()).toMatchObject({ status: 'idle', error: null });
  });

  it('a Continue refused at the rate limit leaves the answer as it was, saying when to try again', async () => {
    server.use(
      http.post(`${API}/chat/stream-token`, () =>
        HttpResponse.json(
          { error: { code: 'rate_limited', message: 'Too many messages.' } },
          { status: 429, headers: { 'Retry-After': '120' } },
        ),
      ),
    );
    const { session, answer } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(stoppedPage);
    session.continueLastAnswer();
    await vi.waitFor(() => {
      expect(answer()?.isStreaming).toBe(false);
    });
    expect(answer()).toMatchObject({
      content: 'Once upon',
      status: 'cancelled',
      error: { code: 'rate_limited', retryable: true, retryAfterS: 120 },
    });
    expect(answer()?.error?.message).toMatch(/Try again in 2 minutes/);
    expect(FakeEventSource.instances).toHaveLength(0);
  });
});

describe('ChatSession with whole answers', () => {
  it('posts the message and shows the stored answer', async () => {
    server.use(http.post(`${API}/chat/message`, () => HttpResponse.json(wholeAnswer('Done.'))));
    const { session, whole, answer } = setup();
    session.setTransport(whole);
    session.send('q');
    expect(answer()?.status).toBe('pending');
    await vi.waitFor(() => {
      expect(answer()).toMatchObject({ content: 'Done.', status: 'complete', serverId: 'a-1' });
    });
    expect(session.getSnapshot().conversationId).toBe('conv-1');
  });

  it('Stop aborts the request and stops the answer by its client_message_id', async () => {
    const stops = recordStops();
    let sentId = '';
    server.use(
      http.post(`${API}/chat/message`, async ({ request }) => {
        sentId = ((await request.json()) as { client_message_id: string }).client_message_id;
        return new Promise<Response>(() => undefined);
      }),
    );
    const { session, whole, answer } = setup();
    session.setTransport(whole);
    session.send('q');
    await vi.waitFor(() => {
      expect(sentId).not.toBe('');
    });
    session.stop();
    await vi.waitFor(() => {
      expect(answer()).toMatchObject({ status: 'cancelled', isStreaming: false });
    });
    expect(stops).toEqual([`send:${sentId}`]);
  });

  it('shows a model failure (502) as a retryable error', async () => {
    server.use(
      http.post(`${API}/chat/message`, () =>
        HttpResponse.json(
          { error: { code: 'llm_error', message: 'The model failed.' } },
          { status: 502 },
        ),
      ),
    );
    const { session, whole, answer } = setup();
    session.setTransport(whole);
    session.send('q');
    await vi.waitFor(() => {
      expect(answer()).toMatchObject({
        status: 'error',
        // One wording per outcome: the same words as this answer reloaded from history.
        error: { code: 'llm_error', message: errorText('llm_error'), retryable: true },
      });
    });
  });
});
