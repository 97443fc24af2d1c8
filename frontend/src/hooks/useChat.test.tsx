import { act, renderHook, waitFor } from '@testing-library/react';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';

import type { Message, SendMessageResponse } from '../api/types';
import { FIRST_PAGE_LIMIT } from '../chat/MessagePager';
import { ApiError } from '../services/http';
import { installManualFrames } from '../test/helpers';
import { ScriptedChatClient } from '../test/ScriptedChatClient';
import { makeMessage } from '../test/server';

import { useChat } from './useChat';
import type { UseChatOptions } from './useChat';

function setup(options: Partial<UseChatOptions> = {}) {
  const client = new ScriptedChatClient();
  const frames = installManualFrames();
  const hook = renderHook((props: Partial<UseChatOptions>) =>
    useChat({ isOnboarding: false, client, ...options, ...props }),
  );
  return { client, frames, ...hook };
}

describe('useChat streaming', () => {
  it('shows the user message at once and an assistant placeholder that is streaming', () => {
    const { result, client } = setup();
    act(() => {
      result.current.sendMessage('Hello?');
    });

    const [user, assistant] = result.current.messages;
    expect(user).toMatchObject({ role: 'user', content: 'Hello?' });
    expect(assistant).toMatchObject({ role: 'assistant', content: '', isStreaming: true });
    expect(result.current.status).toBe('streaming');
    expect(result.current.isBusy).toBe(true);
    expect(client.latest().message).toBe('Hello?');
  });

  it('appends chunks to the placeholder, once per frame', () => {
    const { result, client, frames } = setup();
    act(() => {
      result.current.sendMessage('Hi');
    });
    const stream = client.latest();
    act(() => {
      stream.start();
    });
    frames.flush(); // the frame that paints the start
    act(() => {
      stream.chunk('Hel');
      stream.chunk('lo');
    });
    expect(result.current.messages[1]?.content).toBe(''); // not yet: waiting for the frame
    frames.flush();
    expect(result.current.messages[1]?.content).toBe('Hello');
  });

  it('finalises the message on complete, with any chunks still buffered', () => {
    const { result, client } = setup();
    act(() => {
      result.current.sendMessage('Hi');
    });
    const stream = client.latest();
    act(() => {
      stream.start();
      stream.chunk('All ');
      stream.chunk('done');
      stream.complete();
    });
    expect(result.current.messages[1]).toMatchObject({
      content: 'All done',
      isStreaming: false,
      status: 'complete',
      error: null,
    });
    expect(result.current.messages[1]?.serverId).toMatch(/^a-/);
    expect(result.current.status).toBe('idle');
  });

  it('sets the error on the message when the stream fails', () => {
    const { result, client } = setup();
    act(() => {
      result.current.sendMessage('Hi');
    });
    act(() => {
      client.latest().chunk('Part');
      client.latest().fail({ code: 'timeout', message: 'Took too long' });
    });
    expect(result.current.messages[1]).toMatchObject({
      content: 'Part',
      isStreaming: false,
      status: 'error',
      // The app's one wording for a stall, as after a reload (not the event's own words).
      error: {
        code: 'timeout',
        message: 'The assistant stopped responding before it finished this answer.',
        retryable: true,
      },
    });
    expect(result.current.status).toBe('error');
    expect(result.current.error?.code).toBe('timeout');
  });

  it('refuses a second send while an answer is streaming', () => {
    const { result, client } = setup();
    let second = true;
    act(() => {
      result.current.sendMessage('one');
      second = result.current.sendMessage('two');
    });
    expect(second).toBe(false);
    expect(client.streams).toHaveLength(1);
    expect(result.current.messages).toHaveLength(2);
  });

  it('refuses an empty message', () => {
    const { result, client } = setup();
    act(() => {
      expect(result.current.sendMessage('   ')).toBe(false);
    });
    expect(client.streams).toHaveLength(0);
  });

  it('stop() stops the answer on the server and keeps what was written', () => {
    const { result, client } = setup();
    act(() => {
      result.current.sendMessage('Tell me a story');
    });
    const stream = client.latest();
    act(() => {
      stream.start();
      stream.chunk('Once upon');
    });
    act(() => {
      result.current.stop();
    });
    expect(stream.stop).toHaveBeenCalledTimes(1);
    expect(result.current.isBusy).toBe(true); // until the server says it stopped
    act(() => {
      stream.cancelled();
    });
    expect(result.current.messages[1]).toMatchObject({
      content: 'Once upon',
      isStreaming: false,
      status: 'cancelled',
    });
    expect(result.current.status).toBe('idle');
    act(() => {
      expect(result.current.sendMessage('next')).toBe(true);
    });
  });

  it('continueLastAnswer() writes the stopped answer on where it stopped, in the same message', () => {
    const { result, client, frames } = setup();
    act(() => {
      result.current.sendMessage('Tell me a story');
    });
    const stream = client.latest();
    act(() => {
      stream.start();
      stream.chunk('Once upon');
      result.current.stop();
      stream.cancelled();
    });
    expect(result.current.canContinue).toBe(true);
    act(() => {
      expect(result.current.continueLastAnswer()).toBe(true);
    });
    const continued = client.latest();
    expect(continued.continued).toBe(result.current.messages[1]?.serverId);
    expect(result.current.isBusy).toBe(true);
    act(() => {
      continued.start({ prefix: 'Once upon' });
    });
    frames.flush(); // the frame that paints the start
    act(() => {
      continued.chunk(' a time');
    });
    frames.flush();
    expect(result.current.messages.map((m) => m.content)).toEqual([
      'Tell me a story',
      'Once upon a time',
    ]);
    act(() => {
      continued.complete({ content: 'Once upon a time.' });
    });
    frames.flush(); // text was shown at the last frame: the end comes with the next one
    expect(result.current.messages[1]).toMatchObject({
      content: 'Once upon a time.',
      status: 'complete',
    });
  });

  it('cannot continue on the onboarding chat, nor when answers come whole', () => {
    expect(setup({ isOnboarding: true }).result.current.canContinue).toBe(false);
    expect(setup({ streamingEnabled: false }).result.current.canContinue).toBe(false);
    expect(setup().result.current.canContinue).toBe(true);
  });

  it('retryLastMessage() replaces the failed answer: same client_message_id, regenerate', () => {
    const { result, client } = setup();
    act(() => {
      result.current.sendMessage('What is SSE?');
    });
    const first = client.latest();
    expect(first.options.regenerate).toBeFalsy();
    act(() => {
      first.fail();
    });
    act(() => {
      expect(result.current.retryLastMessage()).toBe(true);
    });

    expect(client.streams).toHaveLength(2);
    expect(client.latest().message).toBe('What is SSE?');
    expect(client.latest().options.clientMessageId).toBe(first.options.clientMessageId);
    expect(client.latest().options.regenerate).toBe(true);
    const roles = result.current.messages.map((m) => [m.role, m.content, m.error]);
    expect(roles).toEqual([
      ['user', 'What is SSE?', null],
      ['assistant', '', null],
    ]);
    act(() => {
      client.latest().chunk('Server-Sent Events');
      client.latest().complete();
    });
    expect(result.current.messages[1]?.content).toBe('Server-Sent Events');
  });

  it('a second retry still regenerates the same question', () => {
    const { result, client } = setup();
    act(() => {
      result.current.sendMessage('Q');
    });
    const id = client.latest().options.clientMessageId;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      act(() => {
        client.latest().fail();
      });
      act(() => {
        result.current.retryLastMessage();
      });
      expect(client.latest().options).toMatchObject({ clientMessageId: id, regenerate: true });
    }
    expect(result.current.messages.filter((m) => m.role === 'user')).toHaveLength(1);
  });

  it('lets go of the stream when the component unmounts, leaving the answer running', () => {
    const { result, client, unmount } = setup();
    act(() => {
      result.current.sendMessage('Hi');
    });
    unmount();
    expect(client.latest().detach).toHaveBeenCalledTimes(1);
    expect(client.latest().stop).not.toHaveBeenCalled();
  });

  it('ignores callbacks of a stream it let go of', () => {
    const { result, client, rerender } = setup({ conversationId: 'conv-1' });
    act(() => {
      result.current.sendMessage('Hi');
    });
    const stream = client.latest();
    rerender({ conversationId: 'conv-2' });
    expect(stream.detach).toHaveBeenCalledTimes(1);
    act(() => {
      stream.chunk('late');
      stream.complete();
    });
    expect(result.current.messages).toEqual([]);
    expect(result.current.status).toBe('idle');
  });

  it('reports a new conversation id once, and does not reload it when the page adopts it', async () => {
    const onConversationStarted = vi.fn();
    const { result, client, rerender } = setup({ onConversationStarted });
    act(() => {
      result.current.sendMessage('Hi');
    });
    expect(client.latest().options.conversationId).toBeNull();
    act(() => {
      client.latest().start({ conversation_id: 'conv-42' });
    });
    expect(onConversationStarted).toHaveBeenCalledWith('conv-42');
    rerender({ conversationId: 'conv-42' });
    act(() => {
      client.latest().chunk('Still here');
      client.latest().complete({ conversation_id: 'conv-42' });
    });
    await Promise.resolve();
    expect(client.listMessages).not.toHaveBeenCalled();
    expect(result.current.messages.map((m) => m.content)).toEqual(['Hi', 'Still here']);
    act(() => {
      result.current.sendMessage('Follow-up');
    });
    expect(client.latest().options.conversationId).toBe('conv-42');
    expect(onConversationStarted).toHaveBeenCalledTimes(1);
  });

  it('passes isOnboarding to the service and reports onboarding progress on completion', () => {
    const onTurnComplete = vi.fn();
    const { result, client } = setup({ isOnboarding: true, onTurnComplete });
    act(() => {
      result.current.sendMessage('My name is Ada');
    });
    expect(client.latest().options.isOnboarding).toBe(true);
    act(() => {
      client.latest().complete({
        conversation_id: 'onb',
        onboarding: { progress: 0.5, completed: false },
      });
    });
    expect(onTurnComplete).toHaveBeenCalledWith({
      conversationId: 'onb',
      onboarding: { progress: 0.5, completed: false },
    });
  });
});

describe('useChat history', () => {
  function page(count: number, prefix: string): Message[] {
    return Array.from({ length: count }, (_, i) =>
      makeMessage({
        id: `${prefix}-${i}`,
        role: i % 2 === 0 ? 'user' : 'assistant',
        content: `${prefix} ${i}`,
      }),
    );
  }

  it('loads the conversation on mount', async () => {
    const client = new ScriptedChatClient();
    client.listMessages.mockResolvedValueOnce({ items: page(4, 'old'), has_more: false });
    const { result } = renderHook(() =>
      useChat({ isOnboarding: false, conversationId: 'conv-1', client }),
    );
    expect(result.current.history.isLoading).toBe(true);
    await waitFor(() => {
      expect(result.current.messages).toHaveLength(4);
    });
    expect(client.listMessages).toHaveBeenCalledWith(
      'conv-1',
      { limit: FIRST_PAGE_LIMIT },
      expect.anything(),
    );
    expect(result.current.history).toMatchObject({ isLoading: false, hasEarlier: false });
  });

  it('holds the newest 50 messages and loads earlier ones on demand', async () => {
    const client = new ScriptedChatClient();
    client.listMessages.mockResolvedValueOnce({ items: page(50, 'recent'), has_more: false });
    const { result } = renderHook(() =>
      useChat({ isOnboarding: false, conversationId: 'conv-1', client }),
    );
    await waitFor(() => {
      expect(result.current.messages).toHaveLength(50);
    });
    expect(result.current.history.hasEarlier).toBe(false);

    act(() => {
      result.current.sendMessage('one more');
    });
    act(() => {
      client.latest().start();
      client.latest().complete();
    });
    expect(result.current.messages).toHaveLength(50);
    expect(result.current.messages[0]?.serverId).toBe('recent-2');
    expect(result.current.history.hasEarlier).toBe(true);

    client.listMessages.mockResolvedValueOnce({ items: page(2, 'recent'), has_more: false });
    await act(async () => {
      await result.current.loadEarlier();
    });
    expect(client.listMessages).toHaveBeenLastCalledWith('conv-1', {
      before: 'recent-2',
      limit: 50,
    });
    expect(result.current.messages).toHaveLength(52);
    expect(result.current.messages[0]?.serverId).toBe('recent-0');
    expect(result.current.history.hasEarlier).toBe(false);
  });

  it('retries a failed answer loaded from history with its stored client_message_id', async () => {
    const client = new ScriptedChatClient();
    client.listMessages.mockResolvedValueOnce({
      items: [
        makeMessage({ id: 'u', role: 'user', content: 'q', client_message_id: 'stored-cmid' }),
        makeMessage({ id: 'a', status: 'error', error_code: 'llm_error', content: 'Par' }),
      ],
      has_more: false,
    });
    const { result } = renderHook(() =>
      useChat({ isOnboarding: false, conversationId: 'conv-1', client }),
    );
    await waitFor(() => {
      expect(result.current.messages[1]?.error?.code).toBe('llm_error');
    });
    act(() => {
      expect(result.current.retryLastMessage()).toBe(true);
    });
    expect(client.latest().message).toBe('q');
    expect(client.latest().options).toMatchObject({
      clientMessageId: 'stored-cmid',
      regenerate: true,
      conversationId: 'conv-1',
    });
    expect(result.current.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'q'],
      ['assistant', ''],
    ]);
  });

  it('shows a failed answer from the server with its error', async () => {
    const client = new ScriptedChatClient();
    client.listMessages.mockResolvedValueOnce({
      items: [
        makeMessage({ id: 'u', role: 'user', content: 'q' }),
        makeMessage({ id: 'a', status: 'error', error_code: 'llm_error', content: '' }),
      ],
      has_more: false,
    });
    const { result } = renderHook(() =>
      useChat({ isOnboarding: false, conversationId: 'conv-1', client }),
    );
    await waitFor(() => {
      expect(result.current.messages[1]?.error?.code).toBe('llm_error');
    });
  });
});

describe('useChat without streaming (feature flag off or no EventSource)', () => {
  function response(content: string): SendMessageResponse {
    return {
      conversation_id: 'conv-1',
      user_message: makeMessage({ id: 'u-1', role: 'user', content: 'q' }),
      assistant_message: makeMessage({ id: 'a-1', content }),
      onboarding: null,
    };
  }

  it('uses sendMessage with a pending placeholder when streaming is disabled', async () => {
    const { result, client } = setup({ streamingEnabled: false });
    let resolve: (value: SendMessageResponse) => void = () => undefined;
    client.sendMessage.mockReturnValueOnce(
      new Promise((r) => {
        resolve = r;
      }),
    );
    act(() => {
      result.current.sendMessage('q');
    });
    expect(client.streams).toHaveLength(0);
    expect(result.current.isStreamingMode).toBe(false);
    expect(result.current.status).toBe('submitted');
    expect(result.current.messages[1]).toMatchObject({ status: 'pending', isStreaming: false });

    await act(async () => {
      resolve(response('The whole answer.'));
      await Promise.resolve();
    });
    expect(result.current.messages[1]).toMatchObject({
      content: 'The whole answer.',
      status: 'complete',
      serverId: 'a-1',
    });
    expect(result.current.status).toBe('idle');
  });

  it('a retry without streaming posts the same client_message_id with regenerate', async () => {
    const { result, client } = setup({ streamingEnabled: false });
    client.sendMessage.mockRejectedValueOnce(new ApiError(502, 'llm_error', 'The model failed.'));
    await act(async () => {
      result.current.sendMessage('q');
      await Promise.resolve();
    });
    const firstOptions = client.sendMessage.mock.calls[0]?.[1];
    expect(firstOptions?.regenerate).toBe(false);
    client.sendMessage.mockResolvedValueOnce(response('Second time.'));
    await act(async () => {
      result.current.retryLastMessage();
      await Promise.resolve();
    });
    expect(client.sendMessage).toHaveBeenLastCalledWith(
      'q',
      expect.objectContaining({ clientMessageId: firstOptions?.clientMessageId, regenerate: true }),
    );
    expect(result.current.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'q'],
      ['assistant', 'Second time.'],
    ]);
  });

  it('falls back to sendMessage when EventSource is unavailable', () => {
    const client = new ScriptedChatClient();
    client.streamingSupported = false;
    const { result } = renderHook(() => useChat({ isOnboarding: false, client }));
    act(() => {
      result.current.sendMessage('q');
    });
    expect(client.sendMessage).toHaveBeenCalledWith(
      'q',
      expect.objectContaining({ isOnboarding: false }),
    );
    expect(client.streams).toHaveLength(0);
  });

  it('shows a model failure (502) as a retryable error', async () => {
    const { result, client } = setup({ streamingEnabled: false });
    client.sendMessage.mockRejectedValueOnce(new ApiError(502, 'llm_error', 'The model failed.'));
    await act(async () => {
      result.current.sendMessage('q');
      await Promise.resolve();
    });
    expect(result.current.messages[1]).toMatchObject({
      status: 'error',
      error: { code: 'llm_error', retryable: true },
    });
  });
});

// Property 9: content accumulation. Whatever the chunk sizes and however they fall into
// frames, the final content is the concatenation of the chunks.
describe('Property: content accumulation', () => {
  it('final content equals the concatenation of all chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.boolean()), {
          maxLength: 40,
        }),
        fc.boolean(),
        (chunks, flushBeforeComplete) => {
          const { result, client, frames, unmount } = setup();
          act(() => {
            result.current.sendMessage('q');
          });
          const stream = client.latest();
          act(() => {
            stream.start();
          });
          for (const [content, frameEnds] of chunks) {
            act(() => {
              stream.chunk(content);
            });
            if (frameEnds) frames.flush();
          }
          if (flushBeforeComplete) frames.flush();
          act(() => {
            stream.complete();
          });
          // An end right after a frame that showed text comes with the next frame.
          frames.flush();
          const expected = chunks.map(([content]) => content).join('');
          expect(result.current.messages[1]?.content).toBe(expected);
          expect(result.current.messages[1]?.isStreaming).toBe(false);
          unmount();
        },
      ),
      { numRuns: 100 },
    );
  });
});

// Property 13: conversation history. A random sequence of turns (completed, failed, stopped)
// keeps every message in order with its content.
describe('Property: history preservation', () => {
  type Outcome = 'complete' | 'fail' | 'stop';
  it('keeps every message in order with its content', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            text: fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim() !== ''),
            reply: fc.string({ maxLength: 20 }),
            outcome: fc.constantFrom<Outcome>('complete', 'fail', 'stop'),
          }),
          { maxLength: 30 },
        ),
        (turns) => {
          const { result, client, unmount } = setup();
          const expected: [string, string][] = [];
          for (const turn of turns) {
            act(() => {
              result.current.sendMessage(turn.text);
            });
            const stream = client.latest();
            act(() => {
              stream.start();
              stream.chunk(turn.reply);
              if (turn.outcome === 'complete') stream.complete();
              if (turn.outcome === 'fail') stream.fail();
            });
            if (turn.outcome === 'stop') {
              act(() => {
                result.current.stop();
              });
              act(() => {
                stream.cancelled();
              });
            }
            expected.push(['user', turn.text], ['assistant', turn.reply]);
          }
          const actual = result.current.messages.map((m) => [m.role, m.content]);
          expect(actual).toEqual(expected.slice(-50));
          expect(result.current.history.hasEarlier).toBe(expected.length > 50);
          unmount();
        },
      ),
      { numRuns: 100 },
    );
  });
});
