// ChatSession over the real transports: ChatService with the EventSource double and MSW, so
// reconnects, resumes, server-side cancel and the streaming-refused fallback are seen whole.

import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';

import type { SendMessageResponse } from '../api/types';
import { ChatService } from '../services/chatService';
import { FakeEventSource } from '../test/FakeEventSource';
import { manualFrames } from '../test/frames';
import { chunk, complete, signIn, start, waitForEventSource } from '../test/helpers';
import { API, makeMessage, server } from '../test/server';

import { ChatSession } from './ChatSession';
import { StreamingTransport, WholeAnswerTransport } from './transport';

function setup() {
  const frames = manualFrames();
  const service = new ChatService();
  const whole = new WholeAnswerTransport(service);
  const session = new ChatSession({
    isOnboarding: false,
    transport: new StreamingTransport(service),
    fallback: whole,
  });
  const answer = () => session.getSnapshot().messages[1];
  return { session, whole, frames, answer };
}

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

describe('ChatSession over SSE: reconnect and resume', () => {
  it('keeps going after a transient drop, without applying a replayed chunk twice', async () => {
    const { session, frames, answer } = setup();
    session.send('hi');
    const es = await waitForEventSource();
    es.emit(start('a-1'), 'a-1:0');
    es.emit(chunk('Hel', 0), 'a-1:1');
    frames.flush();
    expect(answer()?.content).toBe('Hel');

    es.drop(); // the browser reconnects with Last-Event-ID; the server resumes after it
    es.emit(chunk('Hel', 0), 'a-1:1');
    es.emit(chunk('lo', 1), 'a-1:2');
    es.emit(complete(2, 'a-1'), 'a-1:3');

    expect(answer()).toMatchObject({ content: 'Hello', status: 'complete', serverId: 'a-1' });
    expect(session.getSnapshot().status).toBe('idle');
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it('reopens by hand with a fresh token and last_event_id when a reconnect is refused', async () => {
    const { session, answer } = setup();
    session.send('hi');
    const es = await waitForEventSource();
    es.emit(start('a-1'), 'a-1:0');
    es.emit(chunk('Hel', 0), 'a-1:1');

    es.refuse(); // e.g. the stream token expired before the browser's reconnect
    const reopened = await waitForEventSource(2);
    expect(reopened.params.get('last_event_id')).toBe('a-1:1');
    expect(reopened.params.get('client_message_id')).toBe(es.params.get('client_message_id'));
    reopened.emit(chunk('lo', 1), 'a-1:2');
    reopened.emit(complete(2, 'a-1'), 'a-1:3');

    expect(answer()).toMatchObject({ content: 'Hello', status: 'complete' });
    expect(session.getSnapshot().messages).toHaveLength(2);
  });

  it('reports a connection lost for good as a retryable error; retry regenerates', async () => {
    const { session, answer } = setup();
    session.send('hi');
    const es = await waitForEventSource();
    es.emit(start('a-1'));
    es.emit(chunk('Part', 0));
    for (let drop = 0; drop < 4; drop += 1) es.drop();

    expect(answer()).toMatchObject({
      content: 'Part',
      status: 'error',
      error: { code: 'connection_lost', retryable: true },
    });
    expect(session.retryLastMessage()).toBe(true);
    const retry = await waitForEventSource(2);
    expect(retry.params.get('client_message_id')).toBe(es.params.get('client_message_id'));
    expect(retry.params.get('regenerate')).toBe('true');
  });

  it('stop() closes the stream and cancels the answer on the server', async () => {
    const cancelled = recordCancels();
    const { session, answer } = setup();
    session.send('Tell me a story');
    const es = await waitForEventSource();
    es.emit(start('a-7'));
    es.emit(chunk('Once', 0));

    session.stop();
    expect(es.closed).toBe(true);
    await vi.waitFor(() => {
      expect(cancelled).toEqual(['a-7']);
    });
    es.emit(chunk(' upon', 1));
    expect(answer()).toMatchObject({ content: 'Once', status: 'cancelled' });
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
        error: { code: 'llm_error', message: 'The model failed.', retryable: true },
      });
    });
  });
});
