// ChatSession without React: turns, the message window, text per frame, stop and retry.

import { describe, expect, it, vi } from 'vitest';

import { manualFrames } from '../test/frames';
import { ScriptedTransport } from '../test/ScriptedTransport';
import { makeMessage } from '../test/server';

import { ChatSession } from './ChatSession';
import type { ChatSessionOptions } from './ChatSession';

function setup(options: Partial<ChatSessionOptions> = {}) {
  const frames = manualFrames();
  const streaming = new ScriptedTransport(true);
  const whole = new ScriptedTransport(false);
  const session = new ChatSession({
    isOnboarding: false,
    transport: streaming,
    fallback: whole,
    ...options,
  });
  const listener = vi.fn();
  session.subscribe(listener);
  const state = () => session.getSnapshot();
  const contents = () => state().messages.map((m) => [m.role, m.content]);
  return { session, streaming, whole, frames, listener, state, contents };
}

describe('ChatSession: a streamed turn', () => {
  it('shows the question at once with a streaming placeholder, and sends it', () => {
    const { session, streaming, state } = setup();
    expect(session.send('Hello?')).toBe(true);

    const [question, answer] = state().messages;
    expect(question).toMatchObject({ role: 'user', content: 'Hello?', status: 'complete' });
    expect(answer).toMatchObject({ role: 'assistant', content: '', isStreaming: true });
    expect(state().status).toBe('streaming');
    expect(streaming.latest().request).toMatchObject({
      text: 'Hello?',
      isOnboarding: false,
      conversationId: null,
      regenerate: false,
    });
    expect(question?.clientMessageId).toBe(streaming.latest().request.clientMessageId);
  });

  it('refuses an empty message', () => {
    const { session, streaming, listener } = setup();
    expect(session.send('  \n ')).toBe(false);
    expect(streaming.turns).toHaveLength(0);
    expect(listener).not.toHaveBeenCalled();
  });

  it('applies a burst of text once per frame, with one notice to its listeners', () => {
    const { session, streaming, frames, listener, state } = setup();
    session.send('Hi');
    const turn = streaming.latest();
    turn.start();
    listener.mockClear();

    turn.text('Hel', 'lo', ' there');
    expect(state().messages[1]?.content).toBe('');
    expect(listener).not.toHaveBeenCalled();
    expect(frames.pending()).toBe(1);

    frames.flush();
    expect(state().messages[1]?.content).toBe('Hello there');
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('keeps the snapshot the same object until something changes', () => {
    const { session, state } = setup();
    const before = state();
    expect(session.getSnapshot()).toBe(before);
    session.send('Hi');
    expect(state()).not.toBe(before);
  });

  it('completes with any text still buffered, and learns the ids the server gave', () => {
    const onTurnComplete = vi.fn();
    const { session, streaming, state } = setup({ onTurnComplete });
    session.send('Hi');
    const turn = streaming.latest();
    turn.start({ userMessageId: 'q-1' });
    turn.text('All ', 'done');
    turn.complete({ onboarding: { progress: 0.5, completed: false } });

    expect(state().messages[0]?.serverId).toBe('q-1');
    expect(state().messages[1]).toMatchObject({
      content: 'All done',
      isStreaming: false,
      status: 'complete',
      error: null,
    });
    expect(state().messages[1]?.serverId).toMatch(/^answer-/);
    expect(state().status).toBe('idle');
    expect(onTurnComplete).toHaveBeenCalledWith({
      conversationId: state().conversationId,
      onboarding: { progress: 0.5, completed: false },
    });
  });

  it('reports a new conversation once, and sends the next message into it', () => {
    const onConversationStarted = vi.fn();
    const { session, streaming, state } = setup({ onConversationStarted });
    session.send('Hi');
    streaming.latest().start({ conversationId: 'conv-42' });
    streaming.latest().complete({ conversationId: 'conv-42' });
    expect(state().conversationId).toBe('conv-42');

    session.send('Follow-up');
    expect(streaming.latest().request.conversationId).toBe('conv-42');
    streaming.latest().start({ conversationId: 'conv-42' });
    expect(onConversationStarted).toHaveBeenCalledTimes(1);
    expect(onConversationStarted).toHaveBeenCalledWith('conv-42');
  });

  it('carries isOnboarding in every request', () => {
    const { session, streaming } = setup({ isOnboarding: true });
    session.send('My name is Ada');
    expect(streaming.latest().request.isOnboarding).toBe(true);
  });
});

describe('ChatSession: one answer at a time', () => {
  it('refuses a second send and a retry while an answer is coming', () => {
    const { session, streaming, state } = setup();
    expect(session.send('one')).toBe(true);
    expect(session.send('two')).toBe(false);
    expect(session.retryLastMessage()).toBe(false);
    expect(streaming.turns).toHaveLength(1);
    expect(state().messages).toHaveLength(2);

    streaming.latest().complete();
    expect(session.send('two')).toBe(true);
  });

  it('refuses a second send while a whole answer is awaited', () => {
    const { session, streaming, whole } = setup();
    session.setTransport(whole);
    session.send('one');
    expect(session.send('two')).toBe(false);
    expect(whole.turns).toHaveLength(1);
    expect(streaming.turns).toHaveLength(0);
  });
});

describe('ChatSession: errors and retry', () => {
  it('marks the answer failed with the text written so far', () => {
    const { session, streaming, state } = setup();
    session.send('Hi');
    streaming.latest().text('Part');
    streaming.latest().fail({ code: 'timeout', message: 'Took too long' });

    expect(state().messages[1]).toMatchObject({
      content: 'Part',
      isStreaming: false,
      status: 'error',
      error: { code: 'timeout', message: 'Took too long', retryable: true },
    });
    expect(state().status).toBe('error');
    expect(state().error?.code).toBe('timeout');
  });

  it('retry replaces the failed answer: same client_message_id, regenerate, one question', () => {
    const { session, streaming, contents, state } = setup();
    session.send('What is SSE?');
    const first = streaming.latest();
    first.text('Par');
    first.fail();

    expect(session.retryLastMessage()).toBe(true);
    const second = streaming.latest();
    expect(second.request).toMatchObject({
      text: 'What is SSE?',
      clientMessageId: first.request.clientMessageId,
      regenerate: true,
    });
    expect(contents()).toEqual([
      ['user', 'What is SSE?'],
      ['assistant', ''],
    ]);
    expect(state()).toMatchObject({ status: 'streaming', error: null });

    second.text('Server-Sent Events');
    second.complete();
    expect(contents()).toEqual([
      ['user', 'What is SSE?'],
      ['assistant', 'Server-Sent Events'],
    ]);
  });

  it('a second retry regenerates the same question again', () => {
    const { session, streaming, state } = setup();
    session.send('Q');
    const id = streaming.latest().request.clientMessageId;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      streaming.latest().fail();
      session.retryLastMessage();
      expect(streaming.latest().request).toMatchObject({ clientMessageId: id, regenerate: true });
    }
    expect(state().messages.filter((m) => m.role === 'user')).toHaveLength(1);
  });

  it('retries a question stored without a client_message_id as new, then regenerates it', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1' });
    session.showLatestPage({
      items: [
        makeMessage({ id: 'u', role: 'user', content: 'q', client_message_id: null }),
        makeMessage({ id: 'a', status: 'error', error_code: 'llm_error' }),
      ],
      has_more: false,
    });
    session.retryLastMessage();
    const first = streaming.latest().request;
    expect(first).toMatchObject({ text: 'q', regenerate: false, conversationId: 'conv-1' });
    expect(state().messages[0]?.clientMessageId).toBe(first.clientMessageId);

    streaming.latest().fail();
    session.retryLastMessage();
    expect(streaming.latest().request).toMatchObject({
      clientMessageId: first.clientMessageId,
      regenerate: true,
    });
  });

  it('has nothing to retry without a question', () => {
    const { session, streaming } = setup();
    expect(session.retryLastMessage()).toBe(false);
    expect(streaming.turns).toHaveLength(0);
  });
});

describe('ChatSession: stop and letting go', () => {
  it('stop() cancels the transport once and keeps what was written, buffered text too', () => {
    const { session, streaming, state, frames } = setup();
    session.send('Tell me a story');
    const turn = streaming.latest();
    turn.start();
    turn.text('Once');
    frames.flush();
    turn.text(' upon');

    session.stop();
    expect(turn.cancel).toHaveBeenCalledTimes(1);
    expect(state().messages[1]).toMatchObject({
      content: 'Once upon',
      isStreaming: false,
      status: 'cancelled',
    });
    expect(state()).toMatchObject({ status: 'idle', error: null });
    expect(frames.pending()).toBe(0);
    expect(session.send('next')).toBe(true);
  });

  it('ignores whatever the stopped turn reports afterwards', () => {
    const onTurnComplete = vi.fn();
    const { session, streaming, state } = setup({ onTurnComplete });
    session.send('Hi');
    const turn = streaming.latest();
    session.stop();
    turn.text('late');
    turn.complete();
    turn.fail();
    expect(state().messages[1]).toMatchObject({ content: '', status: 'cancelled' });
    expect(state().status).toBe('idle');
    expect(onTurnComplete).not.toHaveBeenCalled();
  });

  it('stop() with no answer in flight changes nothing', () => {
    const { session, listener } = setup();
    session.stop();
    expect(listener).not.toHaveBeenCalled();
  });

  it('abandon() stops the answer on the wire without touching the messages', () => {
    const { session, streaming, state, frames } = setup();
    session.send('Hi');
    const turn = streaming.latest();
    turn.text('Hel');
    const before = state();

    session.abandon();
    expect(turn.cancel).toHaveBeenCalledTimes(1);
    expect(frames.pending()).toBe(0);
    turn.text('lo');
    turn.complete();
    expect(state()).toBe(before);
  });

  it('opening another conversation stops the answer and empties the window', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1' });
    session.send('Hi');
    const turn = streaming.latest();

    expect(session.openConversation('conv-2')).toBe(true);
    expect(turn.cancel).toHaveBeenCalledTimes(1);
    expect(state()).toMatchObject({
      conversationId: 'conv-2',
      messages: [],
      status: 'idle',
      hasEarlier: false,
    });
    turn.text('late');
    turn.complete();
    expect(state().messages).toEqual([]);
  });

  it('keeps the conversation on screen when asked to open it again', () => {
    const { session, streaming, state } = setup();
    session.send('Hi');
    streaming.latest().start({ conversationId: 'conv-42' });
    expect(session.openConversation('conv-42')).toBe(false);
    streaming.latest().complete({ conversationId: 'conv-42' });
    expect(session.openConversation('conv-42')).toBe(false);
    expect(state().messages).toHaveLength(2);
    expect(streaming.latest().cancel).not.toHaveBeenCalled();
  });
});

describe('ChatSession: transports', () => {
  it('a whole-answer transport shows a pending placeholder, then the stored answer', () => {
    const onTurnComplete = vi.fn();
    const { session, whole, state } = setup({ onTurnComplete });
    session.setTransport(whole);
    expect(state().isStreamingMode).toBe(false);
    session.send('q');
    expect(state().status).toBe('submitted');
    expect(state().messages[1]).toMatchObject({ status: 'pending', isStreaming: false });

    whole.latest().start({ conversationId: 'conv-1', userMessageId: 'u-1' });
    whole.latest().answer(makeMessage({ id: 'a-1', content: 'The whole answer.' }));
    expect(state().messages[1]).toMatchObject({
      content: 'The whole answer.',
      status: 'complete',
      serverId: 'a-1',
    });
    expect(state().messages[0]?.serverId).toBe('u-1');
    expect(state().status).toBe('idle');
    expect(onTurnComplete).toHaveBeenCalledTimes(1);
  });

  it('a whole answer stored as failed leaves the turn in error', () => {
    const { session, whole, state } = setup();
    session.setTransport(whole);
    session.send('q');
    whole.latest().answer(makeMessage({ status: 'error', error_code: 'llm_error', content: '' }));
    expect(state().status).toBe('error');
    expect(state().error?.code).toBe('llm_error');
    expect(state().messages[1]?.error?.retryable).toBe(true);
  });

  it('stop() on a whole answer cancels its request', () => {
    const { session, whole, state } = setup();
    session.setTransport(whole);
    session.send('q');
    session.stop();
    expect(whole.latest().cancel).toHaveBeenCalledTimes(1);
    expect(state().messages[1]?.status).toBe('cancelled');
  });

  it('a message the streaming transport cannot carry goes whole', () => {
    const { session, streaming, whole, state } = setup();
    streaming.maxChars = 10;
    session.send('x'.repeat(11));
    expect(streaming.turns).toHaveLength(0);
    expect(whole.turns).toHaveLength(1);
    expect(state().messages[1]?.status).toBe('pending');
    whole.latest().answer(makeMessage({ content: 'ok' }));

    session.send('short');
    expect(streaming.turns).toHaveLength(1);
  });

  it('answers the same turn whole when the server refuses to stream, and the next ones too', () => {
    const { session, streaming, whole, state } = setup();
    session.send('q');
    const refused = streaming.latest();
    refused.fail({ code: 'streaming_disabled', message: 'Streaming is off.', retryable: false });

    expect(whole.turns).toHaveLength(1);
    expect(whole.latest().request).toEqual(refused.request);
    expect(state()).toMatchObject({ status: 'submitted', isStreamingMode: false, error: null });
    expect(state().messages[1]).toMatchObject({ status: 'pending', isStreaming: false });

    whole.latest().answer(makeMessage({ content: 'Whole.' }));
    expect(state().messages[1]?.content).toBe('Whole.');
    session.setTransport(streaming); // the config still says streaming: the server said no
    session.send('again');
    expect(streaming.turns).toHaveLength(1);
    expect(whole.turns).toHaveLength(2);
    expect(state().isStreamingMode).toBe(false);
  });

  it('a new transport serves the next turn; the one in flight keeps its own', () => {
    const { session, streaming, whole, state } = setup();
    session.send('one');
    session.setTransport(whole);
    streaming.latest().text('streamed');
    streaming.latest().complete();
    expect(state().messages[1]?.content).toBe('streamed');
    session.send('two');
    expect(whole.turns).toHaveLength(1);
  });
});

describe('ChatSession: the message window', () => {
  it('keeps the newest messages and says older ones exist', () => {
    const { session, streaming, state, contents } = setup({ historyLimit: 4 });
    for (const text of ['one', 'two', 'three']) {
      session.send(text);
      streaming.latest().text(`re ${text}`);
      streaming.latest().complete();
    }
    expect(contents()).toEqual([
      ['user', 'two'],
      ['assistant', 're two'],
      ['user', 'three'],
      ['assistant', 're three'],
    ]);
    expect(state().hasEarlier).toBe(true);
  });

  it('puts the latest page before what was sent while it loaded', () => {
    const { session, streaming, contents, state } = setup({ conversationId: 'conv-1' });
    session.send('new');
    session.showLatestPage({
      items: [
        makeMessage({ id: 'old-q', role: 'user', content: 'old q' }),
        makeMessage({ id: 'old-a', content: 'old a' }),
      ],
      has_more: true,
    });
    streaming.latest().complete();
    expect(contents()).toEqual([
      ['user', 'old q'],
      ['assistant', 'old a'],
      ['user', 'new'],
      ['assistant', ''],
    ]);
    expect(state().hasEarlier).toBe(true);
    expect(session.oldestServerId).toBe('old-q');
  });

  it('widens the window for earlier pages, so the next answer does not drop them', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1', historyLimit: 2 });
    session.showLatestPage({
      items: [makeMessage({ id: 'm-2', role: 'user' }), makeMessage({ id: 'm-3' })],
      has_more: true,
    });
    session.showEarlierPage({
      items: [makeMessage({ id: 'm-0', role: 'user' }), makeMessage({ id: 'm-1' })],
      has_more: false,
    });
    expect(state().messages.map((m) => m.serverId)).toEqual(['m-0', 'm-1', 'm-2', 'm-3']);
    expect(state().hasEarlier).toBe(false);

    session.send('next');
    streaming.latest().complete();
    expect(state().messages).toHaveLength(4);
    expect(state().messages[0]?.serverId).toBe('m-2');
    expect(state().hasEarlier).toBe(true);
  });

  it('skips messages of an earlier page it already shows', () => {
    const { session, state } = setup({ conversationId: 'conv-1' });
    session.showLatestPage({ items: [makeMessage({ id: 'm-1' })], has_more: true });
    session.showEarlierPage({
      items: [makeMessage({ id: 'm-0' }), makeMessage({ id: 'm-1' })],
      has_more: false,
    });
    expect(state().messages.map((m) => m.serverId)).toEqual(['m-0', 'm-1']);
  });
});
