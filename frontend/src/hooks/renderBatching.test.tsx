// Property 30: render batching. A burst of chunks inside one animation frame costs one React
// commit, however many chunks there are (fast streams must not re-render per token).

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

function mount() {
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
  act(() => {
    client.latest().start();
  });
  frames.flush(); // let scroll scheduling and the like settle
  return { client, frames, view, current, commits: () => commits };
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
