// Property 30: render batching. A burst of chunks inside one animation frame costs one React
// commit, however many chunks there are (fast streams must not re-render per token), and no
// frame paints two commits: not the start's, nor the end's, beside a frame's text.

import { act, render } from '@testing-library/react';
import fc from 'fast-check';
import { Profiler } from 'react';
import { describe, expect, it } from 'vitest';

import { MessageList } from '../components/MessageList';
import { finishedBlockParseCount } from '../lib/markdown';
import { installManualFrames } from '../test/helpers';
import { ScriptedChatClient } from '../test/ScriptedChatClient';

import { useChat } from './useChat';
import type { UseChat } from './useChat';

function Harness({
  client,
  expose,
}: {
  client: ScriptedChatClient;
  expose: (chat: UseChat) => void;
}) {
  const chat = useChat({ isOnboarding: false, client });
  expose(chat);
  return <MessageList messages={chat.messages} />;
}

/** The chat rendered under a commit counter, its message sent; the answer not started yet. */
function mountSent() {
  const client = new ScriptedChatClient();
  const frames = installManualFrames();
  let chat: UseChat | null = null;
  let commits = 0;
  const view = render(
    <Profiler id="chat" onRender={() => (commits += 1)}>
      <Harness
        client={client}
        expose={(c) => {
          chat = c;
        }}
      />
    </Profiler>,
  );
  const current = () => chat as unknown as UseChat;
  act(() => {
    current().sendMessage('Go');
  });
  return { client, frames, view, current, commits: () => commits };
}

function mount() {
  const mounted = mountSent();
  act(() => {
    mounted.client.latest().start();
  });
  mounted.frames.flush(); // let scroll scheduling and the like settle
  return mounted;
}

/**
 * Commits per painted frame: those made since the last frame (in tasks: painted at this one)
 * and those made in this frame's callback.
 */
function paintedFrames(commits: () => number, frames: { flush: () => void }) {
  const perFrame: number[] = [];
  let counted = commits();
  return {
    perFrame,
    frame: () => {
      frames.flush();
      perFrame.push(commits() - counted);
      counted = commits();
    },
  };
}

describe('Property: render batching', () => {
  it('a burst of N chunks inside one frame causes one commit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 200 }),
        (chunks) => {
          const { client, frames, view, current, commits } = mount();
          const before = commits();
          act(() => {
            for (const content of chunks) client.latest().chunk(content);
          });
          expect(commits() - before).toBe(0); // nothing renders until the frame
          frames.flush();
          expect(commits() - before).toBe(1);
          expect(current().messages[1]?.content).toBe(chunks.join(''));
          view.unmount();
        },
      ),
      { numRuns: 100 },
    );
  });

  it('chunks spread over k frames cause k commits', () => {
    const { client, frames, view, commits } = mount();
    const before = commits();
    for (let frame = 0; frame < 5; frame += 1) {
      act(() => {
        for (let i = 0; i < 20; i += 1) client.latest().chunk('x');
      });
      frames.flush();
    }
    expect(commits() - before).toBe(5);
    view.unmount();
  });

  it("the start's commit and the first text never share a frame", () => {
    const { client, frames, view, current, commits } = mountSent();
    frames.flush();
    const painted = paintedFrames(commits, frames);
    // The start and its first chunks in one task, before the next frame.
    act(() => {
      client.latest().start();
      client.latest().chunk('Hel');
      client.latest().chunk('lo');
    });
    painted.frame(); // paints the start's commit, alone
    painted.frame(); // the text
    expect(painted.perFrame).toEqual([1, 1]);
    expect(current().messages[1]?.content).toBe('Hello');
    view.unmount();
  });

  it("the last text and the end are one commit, never a second one in a text's frame", () => {
    const { client, frames, view, current, commits } = mount();
    const painted = paintedFrames(commits, frames);
    act(() => {
      client.latest().chunk('Hel');
    });
    painted.frame();
    // The last chunk and the end come after that frame's text: applied now, the end would be
    // a second commit in it.
    act(() => {
      client.latest().chunk('lo');
      client.latest().complete();
    });
    expect(current().status).toBe('streaming');
    painted.frame();
    expect(painted.perFrame).toEqual([1, 1]);
    expect(current().messages[1]).toMatchObject({ content: 'Hello', status: 'complete' });
    expect(current().status).toBe('idle');
    view.unmount();
  });

  it('a fast answer, start to end: at most one commit in any frame, the whole text shown', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Text in the first frame: a long answer (an end before the start is painted is
        // ChatSession's test).
        fc.array(
          fc.array(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
          { minLength: 1, maxLength: 12 },
        ),
        async (framesOfChunks) => {
          const { client, frames, view, current, commits } = mountSent();
          frames.flush();
          const painted = paintedFrames(commits, frames);
          act(() => {
            client.latest().start();
          });
          await Promise.resolve(); // the start's task ends; the events after it are tasks of their own
          // Chunks between frames; the end right after the last ones, before a frame.
          framesOfChunks.forEach((chunks, i) => {
            act(() => {
              for (const content of chunks) client.latest().chunk(content);
              if (i === framesOfChunks.length - 1) client.latest().complete();
            });
            painted.frame();
          });
          painted.frame();
          painted.frame();
          expect(Math.max(...painted.perFrame)).toBeLessThanOrEqual(1);
          const answer = current().messages[1];
          expect(answer).toMatchObject({
            content: framesOfChunks.flat().join(''),
            status: 'complete',
            isStreaming: false,
          });
          view.unmount();
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a long markdown answer: one commit per frame, each finished block parsed only once', () => {
    const { client, frames, view, current, commits } = mount();
    const run = Math.random().toString(36).slice(2); // blocks no earlier test has cached
    const blocks = Array.from(
      { length: 8 },
      (_, i) => `## Part ${i}\n\nSome **bold ${run}** text ${i}:\n\n- one ${i}\n  - two ${run}`,
    );
    const text = blocks.join('\n\n');
    const chunks = text.match(/\S+\s*|\s+/g) ?? [];
    const commitsBefore = commits();
    const parsesBefore = finishedBlockParseCount();
    for (const chunk of chunks) {
      act(() => {
        client.latest().chunk(chunk);
      });
      frames.flush();
    }
    expect(current().messages[1]?.content).toBe(text);
    expect(commits() - commitsBefore).toBe(chunks.length);
    // Every block but the one still being written was parsed once, when it was finished: not
    // again on each of the frames after it.
    const finished = text.split(/\n\n(?=\S)/).length - 1;
    expect(finishedBlockParseCount() - parsesBefore).toBe(finished);
    view.unmount();
  });
});
