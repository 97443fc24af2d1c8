// The version controls MessageList shows on the latest exchange: Regenerate, Edit (Esc cancels,
// Enter sends) and `< 1/2 >`, by role and label as a person finds them.

import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import type { ChatMessage } from '../chat/messages';
import { localMessage } from '../chat/messages';

import { MessageList } from './MessageList';

function stored(id: string, role: ChatMessage['role'], content: string, versionIds: string[] = []) {
  return { ...localMessage(id, role, content, 'complete'), serverId: id, versionIds };
}

const exchange = [
  stored('q1', 'user', 'First question'),
  stored('a1', 'assistant', 'First answer'),
  stored('q2', 'user', 'Second question', ['q0', 'q2']),
  stored('a2', 'assistant', 'Second answer', ['a0', 'a2']),
];

describe('MessageList: versions', () => {
  it('offers Regenerate on the last answer only, and Edit on the last question only', async () => {
    const user = userEvent.setup();
    const onRegenerate = vi.fn();
    render(<MessageList messages={exchange} onRegenerate={onRegenerate} onEdit={() => true} />);
    expect(screen.getAllByRole('button', { name: 'Regenerate' })).toHaveLength(1);
    expect(screen.getAllByRole('button', { name: 'Edit message' })).toHaveLength(1);
    await user.click(screen.getByRole('button', { name: 'Regenerate' }));
    expect(onRegenerate).toHaveBeenCalledTimes(1);
  });

  it('flips to the previous version; the last one has no next', async () => {
    const user = userEvent.setup();
    const onChooseVersion = vi.fn();
    render(<MessageList messages={exchange} onChooseVersion={onChooseVersion} />);
    const versions = screen.getByRole('group', { name: 'Versions of this answer' });
    expect(within(versions).getByText('Version 2 of 2')).toBeInTheDocument();
    expect(within(versions).getByRole('button', { name: /Next version/ })).toBeDisabled();
    await user.click(within(versions).getByRole('button', { name: /Previous version/ }));
    expect(onChooseVersion).toHaveBeenCalledWith('a2', 'a0');
  });

  it('shows versions without flipping them while an answer is on its way', () => {
    const writing = [...exchange.slice(0, 3), { ...exchange[3]!, isStreaming: true }];
    render(<MessageList messages={writing} onChooseVersion={vi.fn()} onEdit={() => true} />);
    const versions = screen.getByRole('group', { name: 'Versions of this message' });
    expect(within(versions).getByRole('button', { name: /Previous version/ })).toBeDisabled();
    expect(screen.queryByRole('button', { name: 'Edit message' })).not.toBeInTheDocument();
  });

  it('edits in place: Esc leaves the question as it was, Enter sends the new text', async () => {
    const user = userEvent.setup();
    const onEdit = vi.fn(() => true);
    render(<MessageList messages={exchange} onEdit={onEdit} />);

    await user.click(screen.getByRole('button', { name: 'Edit message' }));
    const box = screen.getByRole('textbox', { name: 'Edit your message' });
    expect(box).toHaveFocus();
    await user.type(box, ' again');
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('textbox', { name: 'Edit your message' })).not.toBeInTheDocument();
    expect(screen.getByText('Second question')).toBeInTheDocument();
    expect(onEdit).not.toHaveBeenCalled();

    await user.click(screen.getByRole('button', { name: 'Edit message' }));
    await user.clear(screen.getByRole('textbox', { name: 'Edit your message' }));
    await user.type(screen.getByRole('textbox', { name: 'Edit your message' }), 'Changed{Enter}');
    expect(onEdit).toHaveBeenCalledWith('Changed');
    expect(screen.queryByRole('textbox', { name: 'Edit your message' })).not.toBeInTheDocument();
  });
});
