import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import type { ChatMessage } from '../chat/messages';
import { localMessage } from '../chat/messages';

import { MessageList } from './MessageList';

function answer(content: string, status: ChatMessage['status'], isStreaming = false): ChatMessage {
  return localMessage(`a-${status}`, 'assistant', content, status, isStreaming);
}

describe('MessageActions', () => {
  it("copies a finished answer's markdown source", async () => {
    const user = userEvent.setup();
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText } });
    render(<MessageList messages={[answer('**Bold** and `code`', 'complete')]} />);
    await user.click(screen.getByRole('button', { name: 'Copy answer' }));
    expect(writeText).toHaveBeenCalledWith('**Bold** and `code`');
  });

  it('is not offered while the answer is written, nor on one that stopped part way', () => {
    render(
      <MessageList
        messages={[
          answer('Going', 'streaming', true),
          answer('Half', 'cancelled'),
          answer('', 'complete'),
        ]}
      />,
    );
    for (const article of within(screen.getByRole('log')).getAllByRole('article')) {
      expect(within(article).queryByRole('button', { name: 'Copy answer' })).toBeNull();
    }
  });
});
