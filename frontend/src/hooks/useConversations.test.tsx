// The sidebar's list, refreshed while an answer streams, is shown in the same React commit as
// the answer's text of that frame: a frame never gets a commit of the list's own beside the
// text's.

import { act, render, screen } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { Profiler } from 'react';
import { beforeEach, describe, expect, it, vi } from 'vitest';

import type { Conversation } from '../api/types';
import { installManualFrames, signIn } from '../test/helpers';
import { ScriptedChatClient } from '../test/ScriptedChatClient';
import { API, server } from '../test/server';

import { useChatControls, useChatMessages } from './useChat';
import type { ChatControls, MessageFeed } from './useChat';
import { useConversations } from './useConversations';
import type { UseConversations } from './useConversations';

function conversation(id: string, title: string): Conversation {
  return { id, kind: 'chat', title, created_at: '2024-01-01', updated_at: '2024-01-01' };
}

function Answer({ feed }: { feed: MessageFeed }) {
  const messages = useChatMessages(feed);
  return <p data-testid="answer">{messages.at(-1)?.content ?? ''}</p>;
}

function Harness({
  client,
  expose,
}: {
  client: ScriptedChatClient;
  expose: (chat: ChatControls, list: UseConversations) => void;
}) {
  const list = useConversations();
  const chat = useChatControls({ isOnboarding: false, client });
  expose(chat, list);
  return (
    <>
      <ul aria-label="Conversations">
        {list.conversations.map((c) => (
          <li key={c.id}>{c.title}</li>
        ))}
      </ul>
      <Answer feed={chat.feed} />
    </>
  );
}

let titles: string[] = [];

beforeEach(() => {
  signIn();
  titles = ['First'];
  server.use(
    http.get(`${API}/chat/conversations`, () =>
      HttpResponse.json({ items: titles.map((title, i) => conversation(`c-${i}`, title)) }),
    ),
  );
});

describe('useConversations', () => {
  it('shows a list that arrives while text streams in the same commit as that frame’s text', async () => {
    const frames = installManualFrames();
    const client = new ScriptedChatClient();
    let commits = 0;
    let chat: ChatControls | null = null;
    let list: UseConversations | null = null;
    render(
      <Profiler id="page" onRender={() => (commits += 1)}>
        <Harness
          client={client}
          expose={(c, l) => {
            chat = c;
            list = l;
          }}
        />
      </Profiler>,
    );
    const current = () => ({
      chat: chat as unknown as ChatControls,
      list: list as unknown as UseConversations,
    });
    // The first list: shown at the frame after it arrived.
    await vi.waitFor(() => {
      expect(frames.pending()).toBe(1);
    });
    frames.flush();
    expect(screen.getByText('First')).toBeInTheDocument();

    act(() => {
      current().chat.sendMessage('Go');
    });
    act(() => {
      client.latest().start();
    });
    frames.flush(); // the frame that paints the start
    act(() => {
      client.latest().chunk('Hello');
    });
    frames.flush();
    expect(screen.getByTestId('answer')).toHaveTextContent('Hello');
    frames.flush(); // the frame after the text's: nothing waits for another one

    // A refresh while the answer streams: nothing renders when it is asked for, nor when the
    // list arrives; the list waits for the next frame.
    titles = ['Second', 'First'];
    const asked = commits;
    act(() => {
      current().list.refresh();
    });
    await vi.waitFor(() => {
      expect(frames.pending()).toBe(1);
    });
    expect(commits).toBe(asked);
    expect(screen.queryByText('Second')).toBeNull();

    // More text in that frame: one commit shows both.
    act(() => {
      client.latest().chunk(', world');
    });
    frames.flush();
    expect(commits).toBe(asked + 1);
    expect(screen.getByText('Second')).toBeInTheDocument();
    expect(screen.getByTestId('answer')).toHaveTextContent('Hello, world');
  });

  it('a newer refresh wins over one still on its way', async () => {
    const frames = installManualFrames();
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let requests = 0;
    server.use(
      http.get(`${API}/chat/conversations`, async () => {
        requests += 1;
        const titlesNow = requests === 1 ? ['First'] : requests === 2 ? ['Older'] : ['Newer'];
        if (requests === 2) await gate; // the older refresh's list comes last
        return HttpResponse.json({
          items: titlesNow.map((title, i) => conversation(`c-${i}`, title)),
        });
      }),
    );
    let list: UseConversations | null = null;
    function Lister() {
      list = useConversations();
      return <p data-testid="titles">{list.conversations.map((c) => c.title).join(',')}</p>;
    }
    render(<Lister />);
    const current = () => list as unknown as UseConversations;
    await vi.waitFor(() => {
      expect(frames.pending()).toBe(1);
    });
    frames.flush();
    expect(screen.getByTestId('titles')).toHaveTextContent('First');

    act(() => {
      current().refresh();
    });
    await vi.waitFor(() => {
      expect(requests).toBe(2);
    });
    act(() => {
      current().refresh();
    });
    await vi.waitFor(() => {
      expect(frames.pending()).toBe(1);
    });
    frames.flush();
    expect(screen.getByTestId('titles')).toHaveTextContent('Newer');

    release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(frames.pending()).toBe(0);
    expect(screen.getByTestId('titles')).toHaveTextContent('Newer');
  });
});
