import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import { CopyButton, COPIED_MS } from './CopyButton';

/** Call after userEvent.setup(), which installs a clipboard stub of its own. */
function stubClipboard(write: (text: string) => Promise<void>) {
  const writeText = vi.fn(write);
  Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText } });
  return writeText;
}

describe('CopyButton', () => {
  it('copies its text, says "Copied" to screen readers, then goes back to "Copy"', async () => {
    const user = userEvent.setup();
    const writeText = stubClipboard(() => Promise.resolve());
    render(<CopyButton text="print(1)" what="code" />);

    const button = screen.getByRole('button', { name: 'Copy code' });
    await user.click(button);
    expect(writeText).toHaveBeenCalledWith('print(1)');
    expect(button).toHaveTextContent('Copied');
    expect(screen.getByRole('status')).toHaveTextContent('Copied');

    await act(() => new Promise((resolve) => setTimeout(resolve, COPIED_MS + 50)));
    expect(screen.getByRole('button', { name: 'Copy code' })).toBeInTheDocument();
    expect(screen.getByRole('status')).toHaveTextContent('');
  });

  it('is reached and pressed with the keyboard', async () => {
    const user = userEvent.setup();
    const writeText = stubClipboard(() => Promise.resolve());
    render(<CopyButton text="x" what="code" />);
    await user.tab();
    expect(screen.getByRole('button', { name: 'Copy code' })).toHaveFocus();
    await user.keyboard('{Enter}');
    expect(writeText).toHaveBeenCalledWith('x');
  });

  it('falls back to the copy command when the Clipboard API is missing', async () => {
    const user = userEvent.setup();
    Object.defineProperty(navigator, 'clipboard', { configurable: true, value: undefined });
    const execCommand = vi.fn(() => true);
    Object.defineProperty(document, 'execCommand', { configurable: true, value: execCommand });
    render(<CopyButton text="fallback" what="code" />);
    const button = screen.getByRole('button', { name: 'Copy code' });
    await user.click(button);
    expect(execCommand).toHaveBeenCalledWith('copy');
    expect(screen.getByRole('status')).toHaveTextContent('Copied');
    // The button keeps focus; the helper text area is gone.
    expect(button).toHaveFocus();
    expect(document.querySelector('textarea')).toBeNull();
  });

  it('says so when nothing could copy', async () => {
    const user = userEvent.setup();
    stubClipboard(() => Promise.reject(new Error('denied')));
    Object.defineProperty(document, 'execCommand', { configurable: true, value: () => false });
    render(<CopyButton text="x" what="code" />);
    await user.click(screen.getByRole('button', { name: 'Copy code' }));
    expect(screen.getByRole('button')).toHaveTextContent('Copy failed');
    expect(screen.getByRole('status')).toHaveTextContent(/could not copy/i);
  });
});
