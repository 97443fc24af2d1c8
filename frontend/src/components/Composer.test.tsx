import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import { Composer } from './Composer';

function setup(props: Partial<React.ComponentProps<typeof Composer>> = {}) {
  const onSend = vi.fn(() => true);
  const onStop = vi.fn();
  const user = userEvent.setup();
  const view = render(<Composer onSend={onSend} onStop={onStop} isBusy={false} {...props} />);
  const input = screen.getByRole('textbox', { name: 'Message' });
  return { onSend, onStop, user, input, ...view };
}

describe('Composer keyboard and focus', () => {
  it('Enter sends, clears the box and keeps focus in it', async () => {
    const { onSend, user, input } = setup();
    await user.type(input, 'Hello{Enter}');
    expect(onSend).toHaveBeenCalledWith('Hello');
    expect(input).toHaveValue('');
    expect(input).toHaveFocus();
  });

  it('Shift+Enter adds a line instead of sending', async () => {
    const { onSend, user, input } = setup();
    await user.type(input, 'one{Shift>}{Enter}{/Shift}two');
    expect(onSend).not.toHaveBeenCalled();
    expect(input).toHaveValue('one\ntwo');
  });

  it('clicking Send sends and gives focus back to the box', async () => {
    const { onSend, user, input } = setup();
    await user.type(input, 'Hi');
    await user.click(screen.getByRole('button', { name: 'Send' }));
    expect(onSend).toHaveBeenCalledWith('Hi');
    expect(input).toHaveFocus();
  });

  it('does not send an empty message (Send is aria-disabled, not disabled)', async () => {
    const { onSend, user, input } = setup();
    const send = screen.getByRole('button', { name: 'Send' });
    expect(send).toHaveAttribute('aria-disabled', 'true');
    expect(send).toBeEnabled();
    await user.type(input, '   {Enter}');
    expect(onSend).not.toHaveBeenCalled();
  });

  it('while busy: the box stays enabled and focused, Enter does not send, the button stops', async () => {
    const { onSend, onStop, user, input, rerender } = setup();
    await user.type(input, 'first{Enter}');
    rerender(<Composer onSend={onSend} onStop={onStop} isBusy />);
    expect(input).toBeEnabled();
    expect(input).toHaveFocus();
    expect(input).not.toHaveAttribute('readonly');

    await user.type(input, 'second{Enter}');
    expect(onSend).toHaveBeenCalledTimes(1);
    expect(input).toHaveValue('second'); // kept for when the answer is done

    await user.click(screen.getByRole('button', { name: 'Stop' }));
    expect(onStop).toHaveBeenCalledTimes(1);
    expect(input).toHaveFocus();
  });

  it('Esc stops the answer, wherever focus is', async () => {
    const { onStop, user } = setup({ isBusy: true });
    await user.keyboard('{Escape}');
    expect(onStop).toHaveBeenCalledTimes(1);
    await user.tab();
    await user.keyboard('{Escape}');
    expect(onStop).toHaveBeenCalledTimes(2);
  });

  it('Esc does nothing when no answer is coming', async () => {
    const { onStop, user, input } = setup();
    await user.type(input, '{Escape}');
    expect(onStop).not.toHaveBeenCalled();
  });

  it('Tab moves from the box to the button during streaming', async () => {
    const { user, input } = setup({ isBusy: true });
    input.focus();
    await user.tab();
    expect(screen.getByRole('button', { name: 'Stop' })).toHaveFocus();
  });

  it('blocks a message over the limit and says so', async () => {
    const { onSend, user, input } = setup({ maxLength: 10 });
    await user.type(input, 'this is far too long{Enter}');
    expect(onSend).not.toHaveBeenCalled();
    expect(input).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByText(/too long: 20 of 10 characters/i)).toBeInTheDocument();
  });

  it('counts characters as the server does: an emoji is one, not two UTF-16 units', async () => {
    const { onSend, user, input } = setup({ maxLength: 4 });
    await user.type(input, '😀😀😀😀{Enter}');
    expect(onSend).toHaveBeenCalledWith('😀😀😀😀');

    await user.type(input, '😀😀😀😀😀{Enter}');
    expect(onSend).toHaveBeenCalledTimes(1);
    expect(screen.getByText(/too long: 5 of 4 characters/i)).toBeInTheDocument();
  });

  it('changes the placeholder while an answer is coming', () => {
    const { input, rerender, onSend, onStop } = setup();
    expect(input).toHaveAttribute('placeholder', 'Message ChatStream…');
    rerender(<Composer onSend={onSend} onStop={onStop} isBusy />);
    expect(input.getAttribute('placeholder')).toMatch(/answering/i);
  });
});

describe('Composer held by an answer written elsewhere', () => {
  const REASON = 'An answer is still being written in another tab. You can send once it ends.';

  it('says why, disables Send, keeps the text, and sends once no longer held', async () => {
    const { onSend, onStop, user, input, rerender } = setup({ heldReason: REASON });
    const status = screen.getByRole('status');
    expect(status).toHaveTextContent(REASON);
    expect(input).toHaveAccessibleDescription(expect.stringContaining(REASON));
    const send = screen.getByRole('button', { name: 'Send' });
    expect(send).toHaveAttribute('aria-disabled', 'true');
    expect(send).toHaveAccessibleDescription(REASON);

    await user.type(input, 'Me too?{Enter}');
    await user.click(send);
    expect(onSend).not.toHaveBeenCalled();
    expect(input).toHaveValue('Me too?');

    rerender(<Composer onSend={onSend} onStop={onStop} isBusy={false} />);
    expect(screen.getByRole('status')).toBeEmptyDOMElement();
    expect(screen.getByRole('button', { name: 'Send' })).toHaveAttribute('aria-disabled', 'false');
    await user.type(input, '{Enter}');
    expect(onSend).toHaveBeenCalledWith('Me too?');
  });

  it('while following that answer: Stop stays, the reason shows beside it', () => {
    setup({ heldReason: REASON, isBusy: true });
    expect(screen.getByRole('button', { name: 'Stop' })).toBeInTheDocument();
    expect(screen.getByRole('status')).toHaveTextContent(REASON);
  });
});
