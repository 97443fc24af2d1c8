// The phone drawer as a keyboard user meets it: it takes focus, keeps Tab inside while the page
// behind is inert, Esc closes it without stopping the answer, and focus goes back to its button.

import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import { ChatLayout } from './ChatLayout';
import { Composer } from './Composer';

function renderLayout() {
  const onStop = vi.fn();
  const user = userEvent.setup();
  render(
    <ChatLayout
      header={<h1>Conversation</h1>}
      sidebar={(close) => (
        <>
          <button type="button" onClick={close}>
            New chat
          </button>
          <input type="search" aria-label="Search conversations" />
          <button type="button">Sign out</button>
        </>
      )}
    >
      <Composer onSend={() => true} onStop={onStop} isBusy autoFocus={false} />
    </ChatLayout>,
  );
  return { user, onStop, menu: screen.getByRole('button', { name: 'Show conversations' }) };
}

describe('ChatLayout drawer', () => {
  it('takes focus on opening and makes the page behind inert', async () => {
    const { user, menu } = renderLayout();
    expect(screen.getByRole('main')).not.toHaveAttribute('inert');

    await user.click(menu);

    expect(screen.getByRole('button', { name: 'New chat' })).toHaveFocus();
    expect(menu).toHaveAttribute('aria-expanded', 'true');
    expect(document.querySelector('main')).toHaveAttribute('inert');
    expect(screen.getByRole('complementary', { name: 'Sidebar' })).toBeVisible();
  });

  it('keeps Tab and Shift+Tab inside while open', async () => {
    const { user, menu } = renderLayout();
    await user.click(menu);
    const first = screen.getByRole('button', { name: 'New chat' });
    const last = screen.getByRole('button', { name: 'Sign out' });

    await user.tab();
    expect(screen.getByRole('searchbox', { name: 'Search conversations' })).toHaveFocus();
    await user.tab();
    expect(last).toHaveFocus();
    await user.tab();
    expect(first).toHaveFocus();
    await user.tab({ shift: true });
    expect(last).toHaveFocus();
  });

  it('closes on Esc without stopping the answer, and gives focus back to its button', async () => {
    const { user, menu, onStop } = renderLayout();
    await user.click(menu);

    await user.keyboard('{Escape}');

    expect(menu).toHaveAttribute('aria-expanded', 'false');
    expect(menu).toHaveFocus();
    expect(document.querySelector('main')).not.toHaveAttribute('inert');
    expect(onStop).not.toHaveBeenCalled();

    // Closed, Esc stops the answer as before.
    await user.keyboard('{Escape}');
    expect(onStop).toHaveBeenCalledTimes(1);
  });

  it('closes on Esc pressed with focus on the page body, still without stopping the answer', async () => {
    const { user, menu, onStop } = renderLayout();
    await user.click(menu);
    (document.activeElement as HTMLElement).blur();

    await user.keyboard('{Escape}');

    expect(menu).toHaveAttribute('aria-expanded', 'false');
    expect(onStop).not.toHaveBeenCalled();
  });

  it('gives focus back to its button when closed from inside', async () => {
    const { user, menu } = renderLayout();
    await user.click(menu);

    await user.click(screen.getByRole('button', { name: 'New chat' }));

    expect(menu).toHaveAttribute('aria-expanded', 'false');
    expect(menu).toHaveFocus();
  });

  it('is no drawer past phone width: nothing inert, and narrowed again it is modal again', async () => {
    const listeners = new Set<() => void>();
    const query = {
      matches: true,
      addEventListener: (_: string, listener: () => void) => listeners.add(listener),
      removeEventListener: (_: string, listener: () => void) => listeners.delete(listener),
    };
    vi.stubGlobal('matchMedia', () => query);
    const resize = (narrow: boolean) => {
      query.matches = narrow;
      act(() => {
        for (const listener of listeners) listener();
      });
    };
    const { user, menu } = renderLayout();
    await user.click(menu);
    expect(document.querySelector('main')).toHaveAttribute('inert');

    const search = screen.getByRole('searchbox', { name: 'Search conversations' });
    search.focus();
    resize(false);
    expect(document.querySelector('main')).not.toHaveAttribute('inert');

    resize(true);
    expect(document.querySelector('main')).toHaveAttribute('inert');
    expect(search).toHaveFocus(); // focus already in the drawer stays where it was
  });
});

describe('ChatLayout views', () => {
  it('a new view closes the open drawer', async () => {
    const user = userEvent.setup();
    const layout = (viewKey: string) => (
      <ChatLayout viewKey={viewKey} header={<h1>Conversation</h1>} sidebar={() => <p>List</p>}>
        <p>Text</p>
      </ChatLayout>
    );
    const view = render(layout('new'));
    const menu = screen.getByRole('button', { name: 'Show conversations' });
    await user.click(menu);
    expect(menu).toHaveAttribute('aria-expanded', 'true');
    view.rerender(layout('conv-1'));
    expect(menu).toHaveAttribute('aria-expanded', 'false');
  });
});
