import { act, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import fc from 'fast-check';
import { Profiler } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import type { ChatMessage } from '../chat/messages';
import { localMessage } from '../chat/messages';
import { SCROLL_DEBOUNCE_MS } from '../hooks/useStickToBottom';

import { MessageList } from './MessageList';

function user(content: string, id = `u-${content}`): ChatMessage {
  return { ...localMessage(id, 'user', content, 'complete'), serverId: id };
}

function assistant(content: string, overrides: Partial<ChatMessage> = {}): ChatMessage {
  return {
    ...localMessage(overrides.id ?? `a-${content}`, 'assistant', content, 'complete'),
    ...overrides,
  };
}

function streaming(content: string, id = 'a-stream'): ChatMessage {
  return localMessage(id, 'assistant', content, 'streaming', true);
}

/** jsdom does no layout: give the scroller a size so scroll positions mean something. */
function layout(el: HTMLElement, size: { scrollHeight: number; clientHeight: number }) {
  Object.defineProperty(el, 'scrollHeight', { configurable: true, get: () => size.scrollHeight });
  Object.defineProperty(el, 'clientHeight', { configurable: true, get: () => size.clientHeight });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MessageList', () => {
  it('shows a labelled typing indicator while a message streams, and removes it after', () => {
    const { rerender } = render(<MessageList messages={[user('hi'), streaming('Hel')]} />);
    expect(screen.getByRole('img', { name: /assistant is typing/i })).toBeInTheDocument();

    rerender(<MessageList messages={[user('hi'), assistant('Hello', { id: 'a-stream' })]} />);
    expect(screen.queryByRole('img', { name: /assistant is typing/i })).not.toBeInTheDocument();
  });

  it('renders the text streamed so far', () => {
    render(<MessageList messages={[user('hi'), streaming('Hello wor')]} />);
    expect(screen.getByText(/Hello wor/)).toBeInTheDocument();
  });

  it('marks streaming and final messages apart', () => {
    render(<MessageList messages={[assistant('Done'), streaming('Going')]} />);
    const [done, going] = within(screen.getByRole('log')).getAllByRole('article');
    expect(done).toHaveAttribute('data-streaming', 'false');
    expect(done).toHaveAttribute('data-status', 'complete');
    expect(within(done!).queryByRole('img', { name: /typing/i })).not.toBeInTheDocument();
    expect(going).toHaveAttribute('data-streaming', 'true');
    expect(going).toHaveAttribute('data-status', 'streaming');
    expect(within(going!).getByRole('img', { name: 'Assistant is typing' })).toBeInTheDocument();
  });

  it('is a log that is aria-busy while an answer streams', () => {
    const { rerender } = render(<MessageList messages={[user('hi'), streaming('...')]} />);
    const log = screen.getByRole('log');
    expect(log).toHaveAttribute('aria-busy', 'true');
    expect(log).toHaveAttribute('aria-live', 'polite');
    rerender(<MessageList messages={[user('hi'), assistant('ok', { id: 'a-stream' })]} />);
    expect(log).toHaveAttribute('aria-busy', 'false');
  });

  it('announces politely when an answer starts and when it is complete, not per token', () => {
    const { rerender } = render(<MessageList messages={[user('hi')]} />);
    const status = screen.getAllByRole('status').find((el) => el.getAttribute('aria-live'));
    expect(status).toHaveAttribute('aria-live', 'polite');

    rerender(<MessageList messages={[user('hi'), streaming('')]} />);
    expect(status).toHaveTextContent('Assistant is typing…');
    rerender(<MessageList messages={[user('hi'), streaming('Hello')]} />);
    rerender(<MessageList messages={[user('hi'), streaming('Hello there')]} />);
    expect(status).toHaveTextContent('Assistant is typing…'); // unchanged by tokens

    rerender(
      <MessageList messages={[user('hi'), assistant('Hello there!', { id: 'a-stream' })]} />,
    );
    expect(status).toHaveTextContent('Assistant replied: Hello there!');
  });

  it('shows the error as an alert with a Retry button wired to onRetry', async () => {
    const onRetry = vi.fn();
    const failed = assistant('', {
      status: 'error',
      error: { code: 'llm_error', message: 'The model failed.', retryable: true },
    });
    render(<MessageList messages={[user('hi'), failed]} onRetry={onRetry} />);
    expect(screen.getByRole('alert')).toHaveTextContent('The model failed.');
    await userEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(onRetry).toHaveBeenCalledTimes(1);
  });

  it('offers Retry only on the last answer, and not for errors that cannot be retried', () => {
    const failed = (id: string, retryable: boolean) =>
      assistant('', { id, status: 'error', error: { code: 'x', message: 'Nope', retryable } });
    const { rerender } = render(
      <MessageList
        messages={[user('a'), failed('a1', true), user('b'), assistant('fine')]}
        onRetry={vi.fn()}
      />,
    );
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
    rerender(<MessageList messages={[user('a'), failed('a1', false)]} onRetry={vi.fn()} />);
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
  });

  it('offers Continue on the last answer when it stopped or was interrupted part way', async () => {
    const onContinue = vi.fn();
    const stopped = assistant('Once upon', { serverId: 'a-1', status: 'cancelled' });
    const { rerender } = render(
      <MessageList messages={[user('hi'), stopped]} onContinue={onContinue} />,
    );
    expect(screen.getByText('Stopped')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Continue' }));
    expect(onContinue).toHaveBeenCalledTimes(1);

    const interrupted = { ...stopped, status: 'interrupted' as const };
    rerender(<MessageList messages={[user('hi'), interrupted]} onContinue={onContinue} />);
    expect(screen.getByText('Interrupted before it finished')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Continue' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
  });

  it('puts Continue beside Retry when the server lost the answer (a retryable internal error)', () => {
    const lost = assistant('Once upon', {
      serverId: 'a-1',
      status: 'error',
      error: { code: 'internal', message: 'Something went wrong.', retryable: true },
    });
    render(<MessageList messages={[user('hi'), lost]} onRetry={vi.fn()} onContinue={vi.fn()} />);
    const alert = screen.getByRole('alert');
    expect(within(alert).getByRole('button', { name: 'Retry' })).toBeInTheDocument();
    expect(within(alert).getByRole('button', { name: 'Continue' })).toBeInTheDocument();
  });

  it('offers no Continue for a finished or failed answer, an older one, one being written, or without onContinue', () => {
    const stopped = (id: string) => assistant('Part', { id, serverId: id, status: 'cancelled' });
    const cases: ChatMessage[][] = [
      [user('a'), assistant('Done', { serverId: 'a-1' })],
      [
        user('a'),
        assistant('', {
          serverId: 'a-1',
          status: 'error',
          error: { code: 'llm_error', message: 'The model failed.', retryable: true },
        }),
      ],
      [user('a'), stopped('a-1'), user('b'), assistant('fine', { serverId: 'a-2' })],
      [user('a'), { ...stopped('a-1'), status: 'streaming', isStreaming: true }],
      [user('a'), { ...stopped('a-1'), serverId: null }],
    ];
    const { rerender } = render(<MessageList messages={[]} onContinue={vi.fn()} />);
    for (const messages of cases) {
      rerender(<MessageList messages={messages} onContinue={vi.fn()} />);
      expect(screen.queryByRole('button', { name: 'Continue' })).not.toBeInTheDocument();
    }
    rerender(<MessageList messages={[user('a'), stopped('a-1')]} />);
    expect(screen.queryByRole('button', { name: 'Continue' })).not.toBeInTheDocument();
  });

  it('announces a continued answer once as it is written on, and again when complete', () => {
    const stopped = assistant('Once upon', { id: 'a-1', serverId: 'a-1', status: 'cancelled' });
    const { rerender } = render(<MessageList messages={[user('hi'), stopped]} />);
    const status = screen.getAllByRole('status').find((el) => el.getAttribute('aria-live'));
    const writing = { ...stopped, status: 'streaming' as const, isStreaming: true };
    rerender(<MessageList messages={[user('hi'), writing]} />);
    expect(status).toHaveTextContent('Assistant is continuing…');
    rerender(<MessageList messages={[user('hi'), { ...writing, content: 'Once upon a' }]} />);
    expect(status).toHaveTextContent('Assistant is continuing…');
    const done = { ...writing, content: 'Once upon a time.', status: 'complete' as const };
    rerender(<MessageList messages={[user('hi'), { ...done, isStreaming: false }]} />);
    expect(status).toHaveTextContent('Assistant replied: Once upon a time.');
  });

  it('shows a loading indicator for an answer that is not streamed', () => {
    render(<MessageList messages={[user('hi'), localMessage('p', 'assistant', '', 'pending')]} />);
    expect(screen.getByRole('img', { name: /assistant is thinking/i })).toBeInTheDocument();
    expect(screen.getByRole('log')).toHaveAttribute('aria-busy', 'true');
  });

  it('renders assistant markdown safely: code, lists, links without javascript:', () => {
    const text = [
      'Here is **bold** and a [site](https://example.com) and [bad](javascript:alert(1)).',
      '',
      '- one',
      '- two',
      '',
      '```js',
      'const x = 1;',
      '```',
      '',
      '<img src=x onerror=alert(1)>',
    ].join('\n');
    const { container } = render(<MessageList messages={[assistant(text)]} />);
    expect(container.querySelector('strong')).toHaveTextContent('bold');
    expect(container.querySelectorAll('li')).toHaveLength(2);
    expect(container.querySelector('pre code')).toHaveTextContent('const x = 1;');
    const link = screen.getByRole('link', { name: 'site' });
    expect(link).toHaveAttribute('rel', 'noopener noreferrer nofollow');
    expect(link).toHaveAttribute('target', '_blank');
    expect(container.querySelector('a[href^="javascript"]')).toBeNull();
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('[onerror]')).toBeNull();
  });

  it('shows user text as plain text, never as markup', () => {
    const { container } = render(<MessageList messages={[user('<b>not bold</b> **nor this**')]} />);
    expect(container.querySelector('b')).toBeNull();
    expect(screen.getByText('<b>not bold</b> **nor this**')).toBeInTheDocument();
  });

  it('shows "Load earlier" when older messages exist and calls onLoadEarlier', async () => {
    const onLoadEarlier = vi.fn();
    render(<MessageList messages={[user('hi')]} hasEarlier onLoadEarlier={onLoadEarlier} />);
    await userEvent.click(screen.getByRole('button', { name: /load earlier/i }));
    expect(onLoadEarlier).toHaveBeenCalledTimes(1);
  });

  it('moves focus to the messages when the last page takes the focused button away', async () => {
    const shown = [user('c'), assistant('d')];
    const { rerender } = render(
      <MessageList messages={shown} hasEarlier onLoadEarlier={vi.fn()} />,
    );
    await userEvent.click(screen.getByRole('button', { name: /load earlier/i }));
    expect(screen.getByRole('button', { name: /load earlier/i })).toHaveFocus();
    rerender(<MessageList messages={[user('a'), assistant('b'), ...shown]} hasEarlier={false} />);
    expect(screen.getByRole('region', { name: 'Messages' })).toHaveFocus();
  });

  it('says politely how many earlier messages came in', async () => {
    const onLoadEarlier = vi.fn();
    const shown = [user('c'), assistant('d')];
    const { rerender } = render(
      <MessageList messages={shown} hasEarlier onLoadEarlier={onLoadEarlier} />,
    );
    await userEvent.click(screen.getByRole('button', { name: /load earlier/i }));
    rerender(
      <MessageList messages={shown} hasEarlier isLoadingEarlier onLoadEarlier={onLoadEarlier} />,
    );
    rerender(<MessageList messages={[user('a'), assistant('b'), ...shown]} hasEarlier={false} />);
    expect(
      screen.getByText('Loaded 2 earlier messages: the start of the conversation.'),
    ).toHaveAttribute('aria-live', 'polite');
  });
});

describe('MessageList auto-scroll', () => {
  function setupScroll(messages: ChatMessage[]) {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'requestAnimationFrame', 'cancelAnimationFrame'],
    });
    const view = render(<MessageList messages={messages} />);
    const scroller = screen.getByRole('region', { name: 'Messages' });
    const size = { scrollHeight: 1000, clientHeight: 400 };
    layout(scroller, size);
    return { ...view, scroller, size };
  }

  it('follows new content, debounced to 100 ms and applied in an animation frame', () => {
    const { scroller, size, rerender } = setupScroll([user('hi'), streaming('a')]);
    act(() => {
      vi.advanceTimersByTime(SCROLL_DEBOUNCE_MS + 20);
    });
    expect(scroller.scrollTop).toBe(600);

    size.scrollHeight = 1200;
    rerender(<MessageList messages={[user('hi'), streaming('ab')]} />);
    size.scrollHeight = 1300;
    rerender(<MessageList messages={[user('hi'), streaming('abc')]} />);
    act(() => {
      vi.advanceTimersByTime(SCROLL_DEBOUNCE_MS - 10);
    });
    expect(scroller.scrollTop).toBe(600); // not yet
    act(() => {
      vi.advanceTimersByTime(30);
    });
    expect(scroller.scrollTop).toBe(900);
  });

  it('commits nothing for its own following scrolls, only when the reader leaves the bottom', () => {
    const commits = { count: 0 };
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'requestAnimationFrame', 'cancelAnimationFrame'],
    });
    const shown = [user('hi'), streaming('a')];
    render(
      <Profiler id="list" onRender={() => (commits.count += 1)}>
        <MessageList messages={shown} />
      </Profiler>,
    );
    const scroller = screen.getByRole('region', { name: 'Messages' });
    layout(scroller, { scrollHeight: 1000, clientHeight: 400 });
    act(() => {
      vi.advanceTimersByTime(200);
    });
    const before = commits.count;
    // Following the answer down: each step ends in a scroll event at the bottom.
    for (const top of [600, 600, 600]) {
      scroller.scrollTop = top;
      fireEvent.scroll(scroller);
    }
    expect(commits.count).toBe(before);
    // Leaving the bottom does re-render (Jump to latest appears).
    scroller.scrollTop = 300;
    fireEvent.scroll(scroller);
    expect(commits.count).toBe(before + 1);
    expect(screen.getByRole('button', { name: /jump to latest/i })).toBeInTheDocument();
  });

  it('never drags back a reader who scrolled up (any input: a scroll event), and offers Jump to latest', () => {
    const { scroller, size, rerender } = setupScroll([user('hi'), streaming('a')]);
    act(() => {
      vi.advanceTimersByTime(200);
    });
    expect(scroller.scrollTop).toBe(600);

    // Keyboard (PageUp), trackpad and scrollbar all end in a scroll event that moves up.
    scroller.scrollTop = 300;
    fireEvent.scroll(scroller);
    size.scrollHeight = 1400;
    rerender(<MessageList messages={[user('hi'), streaming('a lot more')]} />);
    act(() => {
      vi.advanceTimersByTime(200);
    });
    expect(scroller.scrollTop).toBe(300);

    const jump = screen.getByRole('button', { name: /jump to latest/i });
    fireEvent.click(jump);
    expect(scroller.scrollTop).toBe(1000);
    expect(screen.queryByRole('button', { name: /jump to latest/i })).not.toBeInTheDocument();
  });

  it('loads earlier messages when the reader scrolls up to the top, one page at a time', () => {
    const onLoadEarlier = vi.fn();
    const shown = [user('hi'), streaming('a')];
    const { scroller, rerender } = setupScroll(shown);
    rerender(<MessageList messages={shown} hasEarlier onLoadEarlier={onLoadEarlier} />);
    act(() => {
      vi.advanceTimersByTime(200);
    });
    scroller.scrollTop = 400;
    fireEvent.scroll(scroller);
    expect(onLoadEarlier).not.toHaveBeenCalled(); // scrolled up, not yet near the top

    scroller.scrollTop = 0;
    fireEvent.scroll(scroller);
    expect(onLoadEarlier).toHaveBeenCalledTimes(1);

    rerender(
      <MessageList messages={shown} hasEarlier isLoadingEarlier onLoadEarlier={onLoadEarlier} />,
    );
    scroller.scrollTop = 10;
    fireEvent.scroll(scroller);
    expect(onLoadEarlier).toHaveBeenCalledTimes(1); // never while a page is on its way
  });

  it('does not follow the answer after a page comes while the reader is up reading', () => {
    const onLoadEarlier = vi.fn();
    const { scroller, size, rerender } = setupScroll([user('hi'), streaming('a')]);
    rerender(
      <MessageList
        messages={[user('hi'), streaming('a')]}
        hasEarlier
        onLoadEarlier={onLoadEarlier}
      />,
    );
    act(() => {
      vi.advanceTimersByTime(200);
    });
    scroller.scrollTop = 0;
    fireEvent.scroll(scroller);
    expect(onLoadEarlier).toHaveBeenCalledTimes(1);
    rerender(
      <MessageList
        messages={[user('hi'), streaming('ab')]}
        hasEarlier
        isLoadingEarlier
        onLoadEarlier={onLoadEarlier}
      />,
    );
    // The page and more of the answer in one commit; jsdom has no layout, so the anchor does not
    // move and the place kept is scrollTop 0.
    size.scrollHeight = 3000;
    rerender(
      <MessageList
        messages={[user('old'), assistant('older'), user('hi'), streaming('abc')]}
        hasEarlier={false}
        onLoadEarlier={onLoadEarlier}
      />,
    );
    act(() => {
      vi.advanceTimersByTime(500);
    });
    expect(scroller.scrollTop).toBe(0);
    expect(screen.getByRole('button', { name: /jump to latest/i })).toBeInTheDocument();
  });

  it('loads nothing by itself while it follows the answer at the bottom', () => {
    const onLoadEarlier = vi.fn();
    const shown = [user('hi'), streaming('a')];
    const { scroller, size, rerender } = setupScroll(shown);
    size.scrollHeight = 500; // a short conversation: its top is close to its bottom
    rerender(<MessageList messages={shown} hasEarlier onLoadEarlier={onLoadEarlier} />);
    act(() => {
      vi.advanceTimersByTime(200);
    });
    expect(scroller.scrollTop).toBe(100);
    fireEvent.scroll(scroller);
    expect(onLoadEarlier).not.toHaveBeenCalled();
  });

  it('picks up following again when the reader scrolls back to the bottom', () => {
    const { scroller, size, rerender } = setupScroll([user('hi'), streaming('a')]);
    act(() => {
      vi.advanceTimersByTime(200);
    });
    scroller.scrollTop = 100;
    fireEvent.scroll(scroller);
    expect(screen.getByRole('button', { name: /jump to latest/i })).toBeInTheDocument();

    scroller.scrollTop = 600;
    fireEvent.scroll(scroller);
    size.scrollHeight = 1100;
    rerender(<MessageList messages={[user('hi'), streaming('ab')]} />);
    act(() => {
      vi.advanceTimersByTime(200);
    });
    expect(scroller.scrollTop).toBe(700);
  });

  it('follows again when the user sends a message', () => {
    const { scroller, size, rerender } = setupScroll([user('hi'), assistant('hello')]);
    act(() => {
      vi.advanceTimersByTime(200);
    });
    scroller.scrollTop = 0;
    fireEvent.scroll(scroller);
    size.scrollHeight = 1200;
    rerender(
      <MessageList messages={[user('hi'), assistant('hello'), user('next'), streaming('')]} />,
    );
    act(() => {
      vi.advanceTimersByTime(200);
    });
    expect(scroller.scrollTop).toBe(800);
  });
});

// Property 27: accessibility. In every streaming state, the log, its busy state, the labelled
// typing indicators and the polite status region are present and consistent.
describe('Property: ARIA attributes in every streaming state', () => {
  const messageArb = fc
    .record({
      role: fc.constantFrom<'user' | 'assistant'>('user', 'assistant'),
      content: fc.string({ maxLength: 30 }),
      state: fc.constantFrom('complete', 'streaming', 'pending', 'error', 'cancelled'),
    })
    .map(({ role, content, state }) => ({ role, content, state }));

  it('keeps ARIA attributes consistent with the messages', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 8 }), (specs) => {
        const messages: ChatMessage[] = specs.map((spec, i) => {
          const id = `m-${i}`;
          if (spec.role === 'user') return localMessage(id, 'user', spec.content, 'complete');
          const isStreaming = spec.state === 'streaming';
          return {
            ...localMessage(id, 'assistant', spec.content, spec.state, isStreaming),
            error:
              spec.state === 'error'
                ? { code: 'llm_error', message: 'Failed.', retryable: true }
                : null,
          };
        });
        const { unmount, container } = render(
          <MessageList messages={messages} onRetry={() => undefined} />,
        );
        try {
          const log = screen.getByRole('log');
          const busy = messages.some((m) => m.isStreaming || m.status === 'pending');
          expect(log).toHaveAttribute('aria-busy', String(busy));
          expect(log).toHaveAttribute('aria-live', 'polite');
          expect(log).toHaveAccessibleName();

          const items = within(log).queryAllByTestId('message');
          expect(items).toHaveLength(messages.length);
          messages.forEach((message, i) => {
            const item = items[i] as HTMLElement;
            expect(item).toHaveAttribute('data-streaming', String(message.isStreaming));
            const typing = within(item).queryByRole('img', { name: 'Assistant is typing' });
            expect(typing !== null).toBe(message.isStreaming);
            if (message.error) expect(within(item).getByRole('alert')).toBeInTheDocument();
          });

          const politeStatus = container.querySelector('[role="status"][aria-live="polite"]');
          expect(politeStatus).not.toBeNull();
          expect(politeStatus).toHaveAttribute('aria-atomic', 'true');
        } finally {
          unmount();
        }
      }),
      { numRuns: 100 },
    );
  });
});
