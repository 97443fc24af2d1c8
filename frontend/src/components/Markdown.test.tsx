import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import type { ChatMessage } from '../chat/messages';
import { localMessage } from '../chat/messages';

import { MessageList } from './MessageList';

const ANSWER = [
  '# Plan',
  '',
  'Here is **the plan** for *today*, with `code`:',
  '',
  '| Step | When |',
  '| --- | --- |',
  '| **Wake** | 7:00 |',
  '| Work | 9:00 |',
  '',
  '- Morning',
  '  - stretch',
  '  - coffee',
  '- Evening',
  '',
  '1. First',
  '2. Second',
  '',
  '## Notes',
  '',
  'See ![the chart](https://example.com/chart.png) and [this](javascript:alert(1)).',
].join('\n');

function streaming(content: string): ChatMessage {
  return localMessage('a-1', 'assistant', content, 'streaming', true);
}

function ended(content: string, status: ChatMessage['status']): ChatMessage {
  return localMessage('a-1', 'assistant', content, status, false);
}

function answerText(container: HTMLElement): HTMLElement {
  const text = container.querySelector<HTMLElement>('[data-testid="message-text"]');
  if (text === null) throw new Error('no message text');
  return text;
}

/** What a reader sees, code left out (code shows its symbols as typed). */
function prose(container: HTMLElement): string {
  const copy = answerText(container).cloneNode(true) as HTMLElement;
  for (const code of copy.querySelectorAll('pre, code')) code.remove();
  return copy.textContent;
}

function headings(root: HTMLElement): string[] {
  return [...root.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(
    (h) => `${h.tagName}:${h.textContent}`,
  );
}

describe('Markdown in the message list', () => {
  it('never shows half-made markdown at any point while an answer streams', () => {
    const { container, rerender } = render(<MessageList messages={[ended(ANSWER, 'complete')]} />);
    const finalHeadings = headings(answerText(container));
    expect(finalHeadings).toEqual(['H3:Plan', 'H4:Notes']);

    for (let end = 1; end <= ANSWER.length; end += 1) {
      const prefix = ANSWER.slice(0, end);
      rerender(<MessageList messages={[streaming(prefix)]} />);
      const where = `after ${JSON.stringify(prefix.slice(-30))}`;
      expect(prose(container), where).not.toMatch(/\*|\||\]\(|(^|\n)\s*(-|\d+\.)\s*$/);
      for (const heading of headings(answerText(container))) {
        expect(
          finalHeadings.some((h) => h.startsWith(heading)),
          `${where}: ${heading}`,
        ).toBe(true);
      }
    }
  });

  it('renders the finished answer: table, nested list, image as a link, unsafe link as text', () => {
    const { container } = render(<MessageList messages={[ended(ANSWER, 'complete')]} />);
    const text = answerText(container);
    expect(text.querySelector('h1, h2')).toBeNull();
    // The answer's headings sit under the conversation's own (hidden) heading.
    expect(screen.getByRole('heading', { level: 2, name: 'Conversation' })).toHaveClass('sr-only');
    expect(screen.getByRole('heading', { level: 3, name: 'Plan' })).toBeInTheDocument();
    expect([...text.querySelectorAll('th')].map((th) => th.textContent)).toEqual(['Step', 'When']);
    expect(text.querySelector('td strong')).toHaveTextContent('Wake');
    expect([...text.querySelectorAll('ul ul li')].map((li) => li.textContent)).toEqual([
      'stretch',
      'coffee',
    ]);
    const image = within(text).getByRole('link', { name: 'Image: the chart' });
    expect(image).toHaveAttribute('href', 'https://example.com/chart.png');
    expect(text.querySelector('img')).toBeNull();
    expect(within(text).queryByRole('link', { name: 'this' })).toBeNull();
    expect(text).toHaveTextContent('and this.');
  });

  it.each(['cancelled', 'interrupted', 'error'] as const)(
    'shows a %s answer with its cut-off end completed, not as raw markdown',
    (status) => {
      for (const cut of [
        'Results:\n\n| Name | Score |\n| --- ',
        'Steps:\n\n1. Open it\n2.',
        'It is **very',
        'Read [the guide](https://exa',
      ]) {
        const { container, unmount } = render(<MessageList messages={[ended(cut, status)]} />);
        expect(prose(container), cut).not.toMatch(/\*|\||\]\(|(^|\n)\s*(-|\d+\.)\s*$/);
        unmount();
      }
    },
  );

  it('keeps a complete answer exactly as written', () => {
    const { container } = render(
      <MessageList messages={[ended('Multiply: 2 * 3 = 6 and snake_case_name', 'complete')]} />,
    );
    expect(prose(container)).toBe('Multiply: 2 * 3 = 6 and snake_case_name\n');
  });

  it('announces the reply as plain words, without markdown symbols, cut at a word', () => {
    const { rerender } = render(<MessageList messages={[streaming('')]} />);
    const status = screen.getAllByRole('status').find((el) => el.getAttribute('aria-live'));
    rerender(<MessageList messages={[ended(ANSWER, 'complete')]} />);
    expect(status?.textContent).toBe(
      'Assistant replied: Plan. Here is the plan for today, with code: Step, When. Wake, 7:00. ' +
        'Work, 9:00. Morning. stretch. coffee. Evening. First. Second. Notes. ' +
        'See Image: the chart and this.',
    );

    const long = `**Long** ${'word '.repeat(200)}`;
    rerender(<MessageList messages={[streaming(''), ended(long, 'complete')]} />);
    rerender(<MessageList messages={[{ ...streaming(long), id: 'a-2' }]} />);
    rerender(<MessageList messages={[{ ...ended(long, 'complete'), id: 'a-2' }]} />);
    const spoken = status?.textContent ?? '';
    expect(spoken.startsWith('Assistant replied: Long word word')).toBe(true);
    expect(spoken.endsWith('word…')).toBe(true);
    expect(spoken.length).toBeLessThanOrEqual('Assistant replied: '.length + 301);
  });
});
