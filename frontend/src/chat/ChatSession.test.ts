// ChatSession without React: turns, the message window, text per frame, stop and retry.

import { describe, expect, it, vi } from 'vitest';

import type { AnswerAnnouncement, AnswerChannel, AnswerStarted } from '../services/answerChannel';
import { manualFrames } from '../test/frames';
import { ScriptedTransport } from '../test/ScriptedTransport';
import { makeMessage } from '../test/server';

import { ChatSession } from './ChatSession';
import type { ChatSessionOptions } from './ChatSession';

/** An AnswerChannel the test speaks into (`hear`) and reads (`announced`). */
function scriptedChannel() {
  const heard = new Set<(event: AnswerAnnouncement) => void>();
  const channel = {
    announced: [] as AnswerAnnouncement[],
    get listeners() {
      return heard.size;
    },
    announce: (event: AnswerAnnouncement) => {
      channel.announced.push(event);
    },
    listen: (listener: (event: AnswerAnnouncement) => void) => {
      heard.add(listener);
      return () => {
        heard.delete(listener);
      };
    },
    hear: (event: AnswerAnnouncement) => {
      for (const listener of heard) listener(event);
    },
  };
  return channel satisfies AnswerChannel;
}

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
    expect(streaming.latest().request!).toMatchObject({
      text: 'Hello?',
      isOnboarding: false,
      conversationId: null,
      regenerate: false,
    });
    expect(question?.clientMessageId).toBe(streaming.latest().request!.clientMessageId);
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
    frames.flush(); // the frame that paints the start
    listener.mockClear();

    turn.text('Hel', 'lo', ' there');
    expect(state().messages[1]?.content).toBe('');
    expect(listener).not.toHaveBeenCalled();
    expect(frames.pending()).toBe(1);

    frames.flush();
    expect(state().messages[1]?.content).toBe('Hello there');
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it("text that comes before the start's commit is painted waits for the frame after", () => {
    const { session, streaming, frames, listener, state } = setup();
    session.send('Hi');
    const turn = streaming.latest();
    turn.start();
    turn.text('Hel', 'lo');
    // The start's store update is React's commit of its own, painted at the next frame: that
    // frame takes no second one.
    expect(listener).toHaveBeenCalled();
    listener.mockClear();
    frames.flush();
    expect(listener).not.toHaveBeenCalled();
    expect(state().messages[1]?.content).toBe('');
    frames.flush();
    expect(state().messages[1]?.content).toBe('Hello');
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('an end that comes after a frame applied text waits for the next frame, with its text', () => {
    const onTurnComplete = vi.fn();
    const { session, streaming, frames, listener, state } = setup({ onTurnComplete });
    session.send('Hi');
    const turn = streaming.latest();
    turn.start();
    frames.flush();
    turn.text('Hel');
    frames.flush();
    expect(state().messages[1]?.content).toBe('Hel');
    listener.mockClear();

    // Applied now, the end would be a second commit in the frame that showed 'Hel'.
    turn.text('lo');
    turn.complete();
    expect(listener).not.toHaveBeenCalled();
    expect(state().status).toBe('streaming');
    session.stop(); // the answer is over: nothing to stop
    expect(turn.stop).not.toHaveBeenCalled();
    expect(onTurnComplete).not.toHaveBeenCalled();

    frames.flush(); // the last text and the end, in the same frame callback
    expect(listener).toHaveBeenCalled();
    expect(state().messages[1]).toMatchObject({ content: 'Hello', status: 'complete' });
    expect(state().status).toBe('idle');
    expect(onTurnComplete).toHaveBeenCalledTimes(1);
    expect(frames.pending()).toBe(0);
  });

  it('an end with text still buffered and no text at the last frame is applied at once', () => {
    const { session, streaming, frames, listener, state } = setup();
    session.send('Hi');
    const turn = streaming.latest();
    turn.start();
    frames.flush();
    frames.flush();
    listener.mockClear();
    turn.text('All ', 'done');
    turn.complete();
    expect(listener).toHaveBeenCalled();
    expect(state().messages[1]).toMatchObject({ content: 'All done', status: 'complete' });
    expect(frames.pending()).toBe(0);
  });

  it('an end that comes before the start is painted waits for the frame after it', async () => {
    const { session, streaming, frames, listener, state } = setup();
    session.send('Hi');
    const turn = streaming.latest();
    turn.start();
    await Promise.resolve(); // the start's task is over: React has rendered it
    listener.mockClear();
    turn.text('Hi!');
    turn.complete();
    expect(listener).not.toHaveBeenCalled();
    frames.flush(); // paints the start
    expect(listener).not.toHaveBeenCalled();
    frames.flush();
    expect(state().messages[1]).toMatchObject({ content: 'Hi!', status: 'complete' });
    expect(frames.pending()).toBe(0);
  });

  it('an end in the same task as the start (a whole answer) joins its commit at once', () => {
    const { session, streaming, state } = setup();
    session.send('Hi');
    const turn = streaming.latest();
    turn.start();
    turn.text('Hi!');
    turn.complete();
    expect(state().messages[1]).toMatchObject({ content: 'Hi!', status: 'complete' });
  });

  it('leaving the conversation while an end waits for its frame still applies and tells it', () => {
    const onTurnComplete = vi.fn();
    const channel = scriptedChannel();
    const { session, streaming, frames } = setup({ onTurnComplete, channel });
    session.send('Hi');
    const turn = streaming.latest();
    turn.start({ conversationId: 'conv-1' });
    frames.flush();
    turn.text('Hel');
    frames.flush();
    turn.complete({ conversationId: 'conv-1' });
    expect(onTurnComplete).not.toHaveBeenCalled();

    session.openConversation('conv-2');
    expect(onTurnComplete).toHaveBeenCalledTimes(1);
    expect(channel.announced.at(-1)).toMatchObject({ type: 'answer-ended' });
    expect(turn.detach).not.toHaveBeenCalled(); // it had ended: nothing to let go of
    expect(frames.pending()).toBe(0);
  });

  it('keeps the place in line while the answer waits for the model, and drops it at the first text', () => {
    const { session, streaming, frames, state } = setup();
    session.send('Hi');
    const turn = streaming.latest();
    turn.start();
    turn.callbacks.onQueued?.(2);
    expect(state().messages[1]?.queuePosition).toBe(2);
    turn.callbacks.onQueued?.(1);
    expect(state().messages[1]?.queuePosition).toBe(1);
    turn.text('Hello');
    // It leaves the line in the frame that shows its first text (the start's frame, then that).
    expect(state().messages[1]?.queuePosition).toBe(1);
    frames.flush();
    frames.flush();
    expect(state().messages[1]).toMatchObject({ content: 'Hello', queuePosition: null });
    turn.complete();
    frames.flush();
    expect(state().messages[1]).toMatchObject({ content: 'Hello', status: 'complete' });
  });

  it('drops the place in line of an answer stopped while it waited', () => {
    const { session, streaming, state } = setup();
    session.send('Hi');
    const turn = streaming.latest();
    turn.start();
    turn.callbacks.onQueued?.(3);
    turn.cancelled(null);
    expect(state().messages[1]).toMatchObject({ isStreaming: false, queuePosition: null });
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
    expect(streaming.latest().request!.conversationId).toBe('conv-42');
    streaming.latest().start({ conversationId: 'conv-42' });
    expect(onConversationStarted).toHaveBeenCalledTimes(1);
    expect(onConversationStarted).toHaveBeenCalledWith('conv-42');
  });

  it('carries isOnboarding in every request', () => {
    const { session, streaming } = setup({ isOnboarding: true });
    session.send('My name is Ada');
    expect(streaming.latest().request!.isOnboarding).toBe(true);
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

  it('shows the text the server kept when a crash lost words it had sent', () => {
    const { session, streaming, state } = setup();
    session.send('Hi');
    streaming.latest().text('Once upon a time there');
    streaming.latest().fail({ code: 'internal', message: 'Interrupted.' }, 'Once upon a');

    expect(state().messages[1]).toMatchObject({
      content: 'Once upon a',
      isStreaming: false,
      status: 'error',
      error: { code: 'internal', retryable: true },
    });
  });

  it('retry replaces the failed answer: same client_message_id, regenerate, one question', () => {
    const { session, streaming, contents, state } = setup();
    session.send('What is SSE?');
    const first = streaming.latest();
    first.text('Par');
    first.fail();

    expect(session.retryLastMessage()).toBe(true);
    const second = streaming.latest();
    expect(second.request!).toMatchObject({
      text: 'What is SSE?',
      clientMessageId: first.request!.clientMessageId,
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
    const id = streaming.latest().request!.clientMessageId;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      streaming.latest().fail();
      session.retryLastMessage();
      expect(streaming.latest().request!).toMatchObject({ clientMessageId: id, regenerate: true });
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
    const first = streaming.latest().request!;
    expect(first).toMatchObject({ text: 'q', regenerate: false, conversationId: 'conv-1' });
    expect(state().messages[0]?.clientMessageId).toBe(first.clientMessageId);

    streaming.latest().fail();
    session.retryLastMessage();
    expect(streaming.latest().request!).toMatchObject({
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
  it('stop() asks the transport once; the answer ends when the server says it stopped', () => {
    const { session, streaming, state, frames } = setup();
    session.send('Tell me a story');
    const turn = streaming.latest();
    turn.start();
    turn.text('Once');
    frames.flush();

    session.stop();
    session.stop();
    expect(turn.stop).toHaveBeenCalledTimes(1);
    expect(turn.detach).not.toHaveBeenCalled();
    expect(state().status).toBe('streaming');
    expect(session.send('next')).toBe(false);

    turn.text(' upon'); // written before the stop reached the model
    turn.cancelled();
    expect(state().messages[1]).toMatchObject({
      content: 'Once upon',
      isStreaming: false,
      status: 'cancelled',
      error: null,
    });
    expect(state()).toMatchObject({ status: 'idle', error: null });
    expect(frames.pending()).toBe(0);
    expect(session.send('next')).toBe(true);
  });

  it('the text the server stored replaces what was shown', () => {
    const { session, streaming, state } = setup();
    session.send('Tell me a story');
    const turn = streaming.latest();
    turn.text('Once');
    session.stop();
    turn.cancelled('Once upon');
    expect(state().messages[1]).toMatchObject({ content: 'Once upon', status: 'cancelled' });
  });

  it('an answer stopped elsewhere (another tab) ends as stopped, not failed', () => {
    const onTurnComplete = vi.fn();
    const { session, streaming, state } = setup({ onTurnComplete });
    session.send('Hi');
    streaming.latest().text('Hel');
    streaming.latest().cancelled();
    expect(state().messages[1]).toMatchObject({ content: 'Hel', status: 'cancelled', error: null });
    expect(state()).toMatchObject({ status: 'idle', error: null });
    expect(onTurnComplete).not.toHaveBeenCalled();
  });

  it('an answer that finished before the stop reached it stays complete', () => {
    const { session, streaming, state } = setup();
    session.send('Hi');
    const turn = streaming.latest();
    session.stop();
    turn.text('Done.');
    turn.complete();
    turn.cancelled('Done.');
    expect(state().messages[1]).toMatchObject({ content: 'Done.', status: 'complete' });
  });

  it('stop() with no answer in flight changes nothing', () => {
    const { session, listener } = setup();
    session.stop();
    expect(listener).not.toHaveBeenCalled();
  });

  it('abandon() lets go of the answer without stopping it, and without touching the messages', () => {
    const { session, streaming, state, frames } = setup();
    session.send('Hi');
    const turn = streaming.latest();
    turn.text('Hel');
    const before = state();

    session.abandon();
    expect(turn.detach).toHaveBeenCalledTimes(1);
    expect(turn.stop).not.toHaveBeenCalled();
    expect(frames.pending()).toBe(0);
    turn.text('lo');
    turn.complete();
    expect(state()).toBe(before);
  });

  it('opening another conversation lets go of the answer (it goes on) and empties the window', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1' });
    session.send('Hi');
    const turn = streaming.latest();

    expect(session.openConversation('conv-2')).toBe(true);
    expect(turn.detach).toHaveBeenCalledTimes(1);
    expect(turn.stop).not.toHaveBeenCalled();
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
    expect(streaming.latest().detach).not.toHaveBeenCalled();
  });
});

describe('ChatSession: following an answer it did not send', () => {
  const streamingPage = (content = 'Once up') => ({
    items: [
      makeMessage({ id: 'u-1', role: 'user', content: 'Tell me', client_message_id: 'cmid-1' }),
      makeMessage({ id: 'a-1', content, status: 'streaming' as const, completed_at: null }),
    ],
    has_more: false,
  });

  it('follows the newest answer of a conversation it opens when it is still being written', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(streamingPage());
    const turn = streaming.latest();
    expect(turn).toMatchObject({ request: null, attachedTo: 'a-1' });
    expect(state().status).toBe('streaming');
    expect(state().messages[1]).toMatchObject({ content: 'Once up', isStreaming: true });
    expect(session.send('another')).toBe(false);
  });

  it("the stream's text replaces the stored text, so nothing shows twice", () => {
    const onTurnComplete = vi.fn();
    const { session, streaming, state, frames } = setup({
      conversationId: 'conv-1',
      onTurnComplete,
    });
    session.showLatestPage(streamingPage('Once up'));
    const turn = streaming.latest();
    turn.start({ conversationId: 'conv-1' });
    turn.text('Once ', 'up');
    frames.flush();
    expect(state().messages[1]?.content).toBe('Once up');
    turn.text('on a time');
    frames.flush();
    expect(state().messages[1]?.content).toBe('Once upon a time');
    turn.complete({ conversationId: 'conv-1' });
    frames.flush(); // text was shown at the last frame: the end comes with the next one
    expect(state().messages[1]).toMatchObject({
      content: 'Once upon a time',
      status: 'complete',
      isStreaming: false,
    });
    expect(state().messages[0]?.serverId).toBe('u-1');
    expect(onTurnComplete).toHaveBeenCalledTimes(1);
  });

  it('keeps the stored text until the retold text reaches it, so the answer never shrinks', () => {
    const { session, streaming, state, frames } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(streamingPage('Once upon a'));
    const turn = streaming.latest();
    turn.text('Once ');
    frames.flush();
    expect(state().messages[1]?.content).toBe('Once upon a');
    turn.text('upon a', ' time');
    frames.flush();
    expect(state().messages[1]?.content).toBe('Once upon a time');
  });

  it('a retold answer that ends short of the stored text ends as the stream told it', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(streamingPage('Once upon a'));
    const turn = streaming.latest();
    turn.start({ conversationId: 'conv-1' });
    turn.text('Once ');
    turn.fail();
    expect(state().messages[1]).toMatchObject({ content: 'Once ', status: 'error' });
  });

  it('does not follow a finished answer, nor one older than the newest', () => {
    const { session, streaming } = setup({ conversationId: 'conv-1' });
    session.showLatestPage({
      items: [
        makeMessage({ id: 'a-0', status: 'streaming' }),
        makeMessage({ id: 'u-1', role: 'user' }),
        makeMessage({ id: 'a-1', status: 'interrupted' }),
      ],
      has_more: false,
    });
    expect(streaming.turns).toHaveLength(0);
  });

  it('without a streaming transport, shows the stored text as it is', () => {
    const { session, streaming, whole, state } = setup({ conversationId: 'conv-1' });
    session.setTransport(whole);
    session.showLatestPage(streamingPage());
    expect(streaming.turns).toHaveLength(0);
    expect(whole.turns).toHaveLength(0);
    expect(state().status).toBe('idle');
    expect(state().messages[1]).toMatchObject({ status: 'streaming', isStreaming: false });
  });

  it('stops a followed answer on the server; its question can be retried after a failure', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(streamingPage());
    const followed = streaming.latest();
    session.stop();
    expect(followed.stop).toHaveBeenCalledTimes(1);
    followed.cancelled('Once up');
    expect(state().messages[1]).toMatchObject({ status: 'cancelled', content: 'Once up' });

    session.showLatestPage(streamingPage()); // reopened, still marked as written
    streaming.latest().start({ conversationId: 'conv-1' });
    streaming.latest().fail();
    expect(session.retryLastMessage()).toBe(true);
    expect(streaming.latest().request).toMatchObject({
      text: 'Tell me',
      clientMessageId: 'cmid-1',
      regenerate: true,
    });
  });

  it('an answer it cannot follow (say, the server out of reach) stays as stored, not failed', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(streamingPage());
    streaming.latest().fail({ code: 'network_error', message: 'Offline.', retryable: true });
    expect(state()).toMatchObject({ status: 'idle', error: null });
    expect(state().messages[1]).toMatchObject({
      content: 'Once up',
      status: 'streaming',
      isStreaming: false,
      error: null,
    });
  });

  it('a followed answer that fails once started is failed, with Retry', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(streamingPage());
    streaming.latest().start({ conversationId: 'conv-1' });
    streaming.latest().fail();
    expect(state().messages[1]).toMatchObject({ status: 'error', error: { retryable: true } });
  });

  it('a refused stream (streaming turned off) leaves the stored text as it is', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(streamingPage());
    streaming.latest().fail({ code: 'streaming_disabled', retryable: false });
    expect(state()).toMatchObject({ status: 'idle', isStreamingMode: false });
    expect(state().messages[1]).toMatchObject({
      content: 'Once up',
      status: 'streaming',
      isStreaming: false,
      error: null,
    });
  });
});

describe('ChatSession: continuing a stopped answer', () => {
  const stoppedPage = (
    status: 'cancelled' | 'interrupted' = 'cancelled',
    content = 'Once upon',
  ) => ({
    items: [
      makeMessage({ id: 'u-1', role: 'user', content: 'Tell me', client_message_id: 'cmid-1' }),
      makeMessage({ id: 'a-1', content, status }),
    ],
    has_more: false,
  });

  it('writes on in the same bubble: the text so far, then the rest, then the stored whole', () => {
    const onTurnComplete = vi.fn();
    const { session, streaming, state, frames, contents } = setup({
      conversationId: 'conv-1',
      onTurnComplete,
    });
    session.showLatestPage(stoppedPage());
    expect(session.continueLastAnswer()).toBe(true);

    const turn = streaming.latest();
    expect(turn).toMatchObject({ request: null, continued: 'a-1', attachedTo: null });
    expect(state().status).toBe('streaming');
    expect(state().messages[1]).toMatchObject({
      content: 'Once upon',
      status: 'streaming',
      isStreaming: true,
    });
    expect(session.send('meanwhile')).toBe(false);
    expect(session.continueLastAnswer()).toBe(false);

    turn.start({ conversationId: 'conv-1', prefix: 'Once upon' });
    frames.flush(); // the frame that paints the start
    turn.text(' a', ' time');
    frames.flush();
    expect(contents()).toEqual([
      ['user', 'Tell me'],
      ['assistant', 'Once upon a time'],
    ]);
    turn.text(' there');
    turn.complete({ conversationId: 'conv-1', content: 'Once upon a time there was.' });
    frames.flush(); // text was shown at the last frame: the end comes with the next one
    expect(state().messages[1]).toMatchObject({
      id: 'a-1',
      serverId: 'a-1',
      content: 'Once upon a time there was.',
      status: 'complete',
      isStreaming: false,
      error: null,
    });
    expect(state()).toMatchObject({ status: 'idle', error: null });
    expect(onTurnComplete).toHaveBeenCalledWith({ conversationId: 'conv-1', onboarding: null });
  });

  it('continues an answer right after Stop, by the id its start gave', () => {
    const { session, streaming, state, frames } = setup();
    session.send('Tell me');
    const sent = streaming.latest();
    sent.start({ conversationId: 'conv-1' });
    sent.text('Once');
    frames.flush();
    session.stop();
    sent.cancelled('Once upon');

    expect(session.continueLastAnswer()).toBe(true);
    const continued = streaming.latest();
    expect(continued.continued).toBe(state().messages[1]?.serverId);
    continued.start({ conversationId: 'conv-1', prefix: 'Once upon' });
    frames.flush(); // the frame that paints the start
    continued.text(' a time');
    frames.flush();
    expect(state().messages.map((m) => m.content)).toEqual(['Tell me', 'Once upon a time']);
  });

  it('continues an answer the server lost (a retryable `internal` error), not a model failure', () => {
    const { session, streaming } = setup();
    session.send('Tell me');
    streaming.latest().start({ conversationId: 'conv-1' });
    streaming.latest().fail({ code: 'llm_error' });
    expect(session.continueLastAnswer()).toBe(false);

    expect(session.retryLastMessage()).toBe(true);
    streaming.latest().start({ conversationId: 'conv-1' });
    streaming.latest().text('Once');
    streaming.latest().fail({ code: 'internal', retryable: true });
    const retried = streaming.latest();
    expect(session.continueLastAnswer()).toBe(true);
    expect(streaming.latest().continued).toMatch(/^answer-/);
    expect(streaming.latest()).not.toBe(retried);
  });

  it('has nothing to continue: a complete answer, a question, onboarding, or whole answers', () => {
    const complete = setup({ conversationId: 'conv-1' });
    complete.session.showLatestPage({
      items: [makeMessage({ id: 'u-1', role: 'user' }), makeMessage({ id: 'a-1' })],
      has_more: false,
    });
    expect(complete.session.continueLastAnswer()).toBe(false);

    const empty = setup();
    expect(empty.session.continueLastAnswer()).toBe(false);

    const onboarding = setup({ conversationId: 'conv-1', isOnboarding: true });
    onboarding.session.showLatestPage(stoppedPage());
    expect(onboarding.session.continueLastAnswer()).toBe(false);

    const whole = setup({ conversationId: 'conv-1' });
    whole.session.setTransport(whole.whole);
    whole.session.showLatestPage(stoppedPage('interrupted'));
    expect(whole.session.continueLastAnswer()).toBe(false);

    for (const tab of [complete, empty, onboarding, whole]) {
      expect(tab.streaming.turns).toHaveLength(0);
      expect(tab.whole.turns).toHaveLength(0);
    }
  });

  it('Stop stops the continuation on the server; the answer ends stopped, as stored', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(stoppedPage('interrupted'));
    session.continueLastAnswer();
    const turn = streaming.latest();
    turn.start({ conversationId: 'conv-1', prefix: 'Once upon' });
    turn.text(' a');
    session.stop();
    expect(turn.stop).toHaveBeenCalledTimes(1);
    turn.cancelled('Once upon a');
    expect(state().messages[1]).toMatchObject({
      content: 'Once upon a',
      status: 'cancelled',
      isStreaming: false,
    });
    expect(state().status).toBe('idle');
    expect(session.continueLastAnswer()).toBe(true); // and on again
  });

  it('a continuation refused before it starts leaves the answer as it was, saying why', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(stoppedPage('interrupted'));
    session.continueLastAnswer();
    const refusal = { code: 'rate_limited', message: 'Too many.', retryable: true };
    streaming.latest().fail(refusal);
    expect(state().messages[1]).toMatchObject({
      content: 'Once upon',
      status: 'interrupted',
      isStreaming: false,
      error: refusal,
    });
    expect(state()).toMatchObject({ status: 'error', error: refusal });
    expect(session.continueLastAnswer()).toBe(true); // it can be asked again
    expect(state().messages[1]).toMatchObject({ status: 'streaming', error: null });
  });

  it('stopped before it started, the answer stays exactly as it was', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(stoppedPage('interrupted'));
    const before = state().messages[1];
    session.continueLastAnswer();
    session.stop();
    streaming.latest().cancelled(null);
    expect(state().messages[1]).toEqual(before);
    expect(state()).toMatchObject({ status: 'idle', error: null });
  });

  it('a continuation that fails once started is failed, with what it wrote', () => {
    const { session, streaming, state } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(stoppedPage());
    session.continueLastAnswer();
    streaming.latest().start({ conversationId: 'conv-1', prefix: 'Once upon' });
    streaming.latest().text(' a');
    streaming.latest().fail();
    expect(state().messages[1]).toMatchObject({
      content: 'Once upon a',
      status: 'error',
      error: { code: 'llm_error' },
    });
  });

  it('streaming refused by the server: the answer stays as it was, and later turns come whole', () => {
    const { session, streaming, whole, state } = setup({ conversationId: 'conv-1' });
    session.showLatestPage(stoppedPage());
    const before = state().messages[1];
    session.continueLastAnswer();
    streaming.latest().fail({ code: 'streaming_disabled', retryable: false });
    expect(state().messages[1]).toEqual(before);
    expect(state()).toMatchObject({ status: 'idle', isStreamingMode: false });
    expect(whole.turns).toHaveLength(0);
    expect(session.continueLastAnswer()).toBe(false);
  });

  it('following an answer being continued (a reload meanwhile): no word twice, never shorter', () => {
    const { session, streaming, state, frames } = setup({ conversationId: 'conv-1' });
    // The history has the text as last saved: the prefix and some of the continuation.
    session.showLatestPage({
      items: [
        makeMessage({ id: 'u-1', role: 'user', content: 'Tell me' }),
        makeMessage({ id: 'a-1', content: 'Once upon a', status: 'streaming' }),
      ],
      has_more: false,
    });
    const followed = streaming.latest();
    expect(followed.attachedTo).toBe('a-1');
    followed.start({ conversationId: 'conv-1', prefix: 'Once upon' });
    expect(state().messages[1]?.content).toBe('Once upon a');
    followed.text(' a');
    frames.flush();
    expect(state().messages[1]?.content).toBe('Once upon a');
    followed.text(' time');
    frames.flush();
    expect(state().messages[1]?.content).toBe('Once upon a time');
    followed.complete({ conversationId: 'conv-1', content: 'Once upon a time.' });
    frames.flush(); // text was shown at the last frame: the end comes with the next one
    expect(state().messages[1]).toMatchObject({ content: 'Once upon a time.', status: 'complete' });
  });
});

describe('ChatSession: answers started in other tabs', () => {
  function announced(overrides: Partial<AnswerStarted> = {}): AnswerStarted {
    return {
      type: 'answer-started',
      conversationId: 'conv-1',
      messageId: 'a-2',
      userMessageId: 'u-2',
      question: 'And then?',
      clientMessageId: 'cmid-2',
      ...overrides,
    };
  }

  function withChannel(conversationId: string | null = 'conv-1') {
    const channel = scriptedChannel();
    const tab = setup({ conversationId, channel });
    const stopWatching = tab.session.watchOtherTabs();
    return { ...tab, channel, stopWatching };
  }

  it('shows the question and follows the answer another tab started here', () => {
    const { session, streaming, channel, contents, state } = withChannel();
    session.showLatestPage({
      items: [makeMessage({ id: 'u-1', role: 'user', content: 'Hi' }), makeMessage({ id: 'a-1' })],
      has_more: false,
    });
    channel.hear(announced());
    expect(streaming.latest()).toMatchObject({ request: null, attachedTo: 'a-2' });
    expect(contents()).toEqual([
      ['user', 'Hi'],
      ['assistant', state().messages[1]?.content],
      ['user', 'And then?'],
      ['assistant', ''],
    ]);
    expect(state().messages[2]).toMatchObject({ serverId: 'u-2', clientMessageId: 'cmid-2' });
    expect(state().messages[3]).toMatchObject({ serverId: 'a-2', isStreaming: true });
    expect(state().status).toBe('streaming');
  });

  it('a retry in another tab replaces the failed answer here too', () => {
    const { session, streaming, channel, state } = withChannel();
    session.showLatestPage({
      items: [
        makeMessage({ id: 'u-2', role: 'user', content: 'And then?' }),
        makeMessage({ id: 'a-1', status: 'error', error_code: 'llm_error' }),
      ],
      has_more: false,
    });
    channel.hear(announced());
    expect(streaming.turns).toHaveLength(1);
    expect(state().messages.map((m) => [m.serverId, m.status])).toEqual([
      ['u-2', 'complete'],
      ['a-2', 'streaming'],
    ]);
  });

  it('ignores answers in other conversations, and while one is already followed', () => {
    const { session, streaming, channel } = withChannel();
    channel.hear(announced({ conversationId: 'conv-other' }));
    expect(streaming.turns).toHaveLength(0);
    session.send('mine');
    channel.hear(announced());
    expect(streaming.turns).toHaveLength(1);
    expect(streaming.latest().attachedTo).toBeNull();
  });

  it('announces a Continue once the server started it, and follows one announced here', () => {
    const { session, streaming, channel, state } = withChannel();
    session.showLatestPage({
      items: [
        makeMessage({ id: 'u-1', role: 'user', content: 'Tell me' }),
        makeMessage({ id: 'a-1', content: 'Once upon', status: 'cancelled' }),
      ],
      has_more: false,
    });
    session.continueLastAnswer();
    expect(channel.announced).toEqual([]);
    streaming.latest().start({ conversationId: 'conv-1', prefix: 'Once upon' });
    expect(channel.announced).toEqual([
      { type: 'answer-continued', conversationId: 'conv-1', messageId: 'a-1' },
    ]);
    session.stop();
    streaming.latest().cancelled('Once upon a');

    // Now another tab continues it: this one follows it in the same bubble.
    channel.hear({ type: 'answer-continued', conversationId: 'conv-1', messageId: 'a-1' });
    const followed = streaming.latest();
    expect(followed).toMatchObject({ attachedTo: 'a-1', continued: null });
    expect(state().messages).toHaveLength(2);
    expect(state().messages[1]).toMatchObject({ status: 'streaming', isStreaming: true });
    followed.start({ conversationId: 'conv-1', prefix: 'Once upon a' });
    followed.text(' time');
    followed.complete({ conversationId: 'conv-1', content: 'Once upon a time' });
    expect(state().messages[1]).toMatchObject({ content: 'Once upon a time', status: 'complete' });
  });

  it('ignores a Continue of an answer it does not show', () => {
    const { streaming, channel, state } = withChannel();
    channel.hear({ type: 'answer-continued', conversationId: 'conv-1', messageId: 'a-9' });
    expect(streaming.turns).toHaveLength(0);
    expect(state().messages).toEqual([]);
  });

  it('announces its own answers once the server started them, and stops listening on request', () => {
    const { session, streaming, channel, stopWatching, state } = withChannel();
    session.send('Tell me');
    const turn = streaming.latest();
    expect(channel.announced).toEqual([]); // nothing to follow before the server has it
    turn.start({ conversationId: 'conv-1', userMessageId: 'u-9' });
    expect(channel.announced).toEqual([
      {
        type: 'answer-started',
        conversationId: 'conv-1',
        messageId: state().messages[1]?.serverId,
        userMessageId: 'u-9',
        question: 'Tell me',
        clientMessageId: turn.request!.clientMessageId,
      },
    ]);
    stopWatching();
    expect(channel.listeners).toBe(0);
  });
});

describe('ChatSession: no send while another tab is answering here', () => {
  function announced(overrides: Partial<AnswerStarted> = {}): AnswerStarted {
    return {
      type: 'answer-started',
      conversationId: 'conv-1',
      messageId: 'a-2',
      userMessageId: 'u-2',
      question: 'And then?',
      clientMessageId: 'cmid-2',
      ...overrides,
    };
  }

  function withChannel() {
    const channel = scriptedChannel();
    const tab = setup({ conversationId: 'conv-1', channel });
    tab.session.watchOtherTabs();
    return { ...tab, channel };
  }

  it('refuses a send while it follows an answer another tab started, and takes one after', () => {
    const { session, streaming, channel, state } = withChannel();
    expect(state().answerElsewhere).toBeNull();
    channel.hear(announced());
    const followed = streaming.latest();
    expect(state().answerElsewhere).toBe('another-tab');

    expect(session.send('Me too?')).toBe(false);
    expect(streaming.turns).toHaveLength(1);
    expect(state().messages.map((m) => m.content)).toEqual(['And then?', '']);

    followed.start({ conversationId: 'conv-1' });
    followed.text('Done.');
    followed.complete({ conversationId: 'conv-1', content: 'Done.' });
    expect(state().answerElsewhere).toBeNull();
    expect(channel.announced).toEqual([]); // not this tab's answer to tell of
    expect(session.send('Me too?')).toBe(true);
  });

  it('refuses a send until the end of an announced answer it cannot follow', () => {
    const { session, whole, channel, state } = withChannel();
    session.setTransport(whole); // whole answers: nothing to follow by
    channel.hear(announced());
    expect(whole.turns).toHaveLength(0);
    expect(state().answerElsewhere).toBe('another-tab');
    expect(session.send('Me too?')).toBe(false);

    channel.hear({ type: 'answer-ended', conversationId: 'conv-1', messageId: 'a-other' });
    channel.hear({ type: 'answer-ended', conversationId: 'conv-other', messageId: 'a-2' });
    expect(state().answerElsewhere).toBe('another-tab');

    channel.hear({ type: 'answer-ended', conversationId: 'conv-1', messageId: 'a-2' });
    expect(state().answerElsewhere).toBeNull();
    expect(session.send('Me too?')).toBe(true);
  });

  it('an answer found being written on opening holds sends until it ends', () => {
    const { session, streaming, state } = withChannel();
    session.showLatestPage({
      items: [
        makeMessage({ id: 'u-1', role: 'user', content: 'Hi' }),
        makeMessage({ id: 'a-1', status: 'streaming', content: 'Hel' }),
      ],
      has_more: false,
    });
    expect(state().answerElsewhere).toBe('on-opening');
    expect(session.send('Me too?')).toBe(false);
    streaming.latest().cancelled('Hello');
    expect(state().answerElsewhere).toBeNull();
  });

  it('tells the other tabs when its own answer ends, however it ends', () => {
    const { session, streaming, channel, state } = withChannel();
    session.send('Tell me');
    streaming.latest().start({ conversationId: 'conv-1' });
    const messageId = state().messages[1]?.serverId;
    streaming.latest().complete({ conversationId: 'conv-1' });
    expect(channel.announced.at(-1)).toEqual({
      type: 'answer-ended',
      conversationId: 'conv-1',
      messageId,
    });

    session.send('And more');
    streaming.latest().start({ conversationId: 'conv-1' });
    session.stop();
    streaming.latest().cancelled('Part');
    expect(channel.announced.at(-1)).toMatchObject({ type: 'answer-ended' });
    expect(channel.announced.filter((e) => e.type === 'answer-ended')).toHaveLength(2);
  });

  it('forgets the other answer on switching conversation', () => {
    const { session, whole, channel, state } = withChannel();
    session.setTransport(whole);
    channel.hear(announced());
    session.openConversation('conv-2');
    expect(state().answerElsewhere).toBeNull();
    expect(session.send('Elsewhere')).toBe(true);
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

  it('stop() on a whole answer stops it through its transport', () => {
    const { session, whole, state } = setup();
    session.setTransport(whole);
    session.send('q');
    session.stop();
    expect(whole.latest().stop).toHaveBeenCalledTimes(1);
    whole.latest().cancelled('Partial');
    expect(state().messages[1]).toMatchObject({ status: 'cancelled', content: 'Partial' });
  });

  it('answers the same turn whole when the server refuses to stream, and the next ones too', () => {
    const { session, streaming, whole, state } = setup();
    session.send('q');
    const refused = streaming.latest();
    refused.fail({ code: 'streaming_disabled', message: 'Streaming is off.', retryable: false });

    expect(whole.turns).toHaveLength(1);
    expect(whole.latest().request!).toEqual(refused.request!);
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
