import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { RetryButton } from './RetryButton';

afterEach(() => {
  vi.useRealTimers();
});

describe('RetryButton', () => {
  it('retries at once when the server set no wait', async () => {
    const onRetry = vi.fn();
    render(
      <RetryButton
        error={{ code: 'llm_error', message: 'Failed.', retryable: true }}
        onRetry={onRetry}
        className={undefined}
      />,
    );
    await userEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(onRetry).toHaveBeenCalledTimes(1);
  });

  it("is disabled, saying until when, while the limit's Retry-After has not passed", () => {
    vi.useFakeTimers();
    const onRetry = vi.fn();
    render(
      <RetryButton
        error={{
          code: 'rate_limited',
          message: 'Too quick.',
          retryable: true,
          retryAfterS: 60,
          retryAt: Date.now() + 60_000,
        }}
        onRetry={onRetry}
        className={undefined}
      />,
    );
    const button = screen.getByRole('button', { name: 'Retry' });
    expect(button).toHaveAttribute('aria-disabled', 'true');
    expect(button).toHaveAccessibleDescription(/Possible again at/);
    act(() => {
      button.click();
    });
    expect(onRetry).not.toHaveBeenCalled();

    act(() => {
      vi.advanceTimersByTime(60_000);
    });
    const ready = screen.getByRole('button', { name: 'Retry' });
    expect(ready).not.toHaveAttribute('aria-disabled');
    act(() => {
      ready.click();
    });
    expect(onRetry).toHaveBeenCalledTimes(1);
  });
});
