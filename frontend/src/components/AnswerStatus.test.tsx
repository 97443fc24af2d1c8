import { act, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { ChatMessage } from '../chat/messages';
import { localMessage } from '../chat/messages';

import { AnswerStatus, STILL_THINKING_AFTER_MS } from './AnswerStatus';

function streaming(content: string, overrides: Partial<ChatMessage> = {}): ChatMessage {
  return { ...localMessage('a-1', 'assistant', content, 'streaming', true), ...overrides };
}

const line = () => screen.queryByTestId('answer-status');
const spoken = () => screen.getByTestId('answer-status-live');

function advance(ms: number): void {
  act(() => {
    vi.advanceTimersByTime(ms);
  });
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('AnswerStatus', () => {
  it('says nothing for the first seconds, then "Still thinking" with the seconds counted', () => {
    render(<AnswerStatus message={streaming('')} />);
    advance(STILL_THINKING_AFTER_MS - 1_000);
    expect(line()).toBeNull();
    advance(1_000);
    expect(line()).toHaveTextContent('Still thinking… (3 s)');
    advance(9_000);
    expect(line()).toHaveTextContent('Still thinking… (12 s)');
  });

  it('announces the wait once, politely, not every second', () => {
    render(<AnswerStatus message={streaming('')} />);
    expect(spoken()).toHaveAttribute('aria-live', 'polite');
    expect(spoken()).toHaveTextContent('');
    advance(STILL_THINKING_AFTER_MS);
    expect(spoken()).toHaveTextContent('Still thinking…');
    const before = spoken().textContent;
    advance(10_000);
    expect(spoken().textContent).toBe(before); // the seconds tick only on screen
    expect(line()).toHaveAttribute('aria-hidden', 'true');
  });

  it('starts counting again when text arrives, and goes once the answer ends', () => {
    const { rerender } = render(<AnswerStatus message={streaming('')} />);
    advance(5_000);
    expect(line()).toHaveTextContent('(5 s)');
    rerender(<AnswerStatus message={streaming('Hello')} />);
    expect(line()).toBeNull();
    advance(STILL_THINKING_AFTER_MS);
    expect(line()).toHaveTextContent('Still thinking… (3 s)');
    expect(spoken()).toHaveTextContent(''); // a pause mid-answer is only shown
    rerender(
      <AnswerStatus message={{ ...streaming('Hello'), isStreaming: false, status: 'complete' }} />,
    );
    expect(line()).toBeNull();
  });

  it('says "Reconnecting…" while the connection is down, at once and announced', () => {
    const { rerender } = render(<AnswerStatus message={streaming('Hel')} />);
    rerender(<AnswerStatus message={streaming('Hel', { isReconnecting: true })} />);
    expect(line()).toHaveTextContent('Reconnecting…');
    expect(line()).toHaveAttribute('data-state', 'reconnecting');
    expect(spoken()).toHaveTextContent('Reconnecting…');
    advance(20_000);
    expect(line()).toHaveTextContent('Reconnecting…'); // no counter while reconnecting
    rerender(<AnswerStatus message={streaming('Hello')} />);
    expect(line()).toBeNull();
    expect(spoken()).toHaveTextContent('');
  });

  it('says where the answer waits in line for the model, at once and announced, then goes', () => {
    const { rerender } = render(<AnswerStatus message={streaming('', { queuePosition: 3 })} />);
    expect(line()).toHaveTextContent('Waiting for the model, 2 ahead');
    expect(line()).toHaveAttribute('data-state', 'queued');
    expect(spoken()).toHaveAttribute('aria-live', 'polite');
    expect(spoken()).toHaveTextContent('Waiting for the model, 2 ahead');
    advance(10_000);
    expect(line()).toHaveTextContent('Waiting for the model, 2 ahead'); // not "Still thinking"
    rerender(<AnswerStatus message={streaming('', { queuePosition: 2 })} />);
    expect(line()).toHaveTextContent('Waiting for the model, 1 ahead');
    expect(spoken()).toHaveTextContent('Waiting for the model, 1 ahead');
    rerender(<AnswerStatus message={streaming('', { queuePosition: 1 })} />);
    expect(line()).toHaveTextContent("Waiting for the model, you're next");
    expect(spoken()).toHaveTextContent("Waiting for the model, you're next");
    rerender(<AnswerStatus message={streaming('Once', { queuePosition: null })} />);
    expect(line()).toBeNull(); // its turn came: the answer itself is the news
    expect(spoken()).toHaveTextContent('');
  });

  it('says "Reconnecting…" rather than a place in line while the connection is down', () => {
    render(<AnswerStatus message={streaming('', { queuePosition: 2, isReconnecting: true })} />);
    expect(line()).toHaveTextContent('Reconnecting…');
  });

  it('shows no place in line for an answer that has ended', () => {
    render(
      <AnswerStatus
        message={{ ...streaming(''), queuePosition: 2, isStreaming: false, status: 'cancelled' }}
      />,
    );
    expect(line()).toBeNull();
  });

  it('counts the wait for a whole answer too', () => {
    render(<AnswerStatus message={localMessage('a-2', 'assistant', '', 'pending')} />);
    advance(4_000);
    expect(line()).toHaveTextContent('Still thinking… (4 s)');
  });

  it('shows nothing under a user message or a finished answer', () => {
    const { rerender } = render(
      <AnswerStatus message={localMessage('u-1', 'user', 'Hi', 'complete')} />,
    );
    advance(10_000);
    expect(line()).toBeNull();
    rerender(<AnswerStatus message={undefined} />);
    expect(line()).toBeNull();
  });
});
