// The sidebar's conversation tools as a user meets them: date groups, rename in place, delete
// after a confirmation, and search whose results open their conversation.

import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { http, HttpResponse } from 'msw';
import { MemoryRouter, useLocation } from 'react-router';
import { describe, expect, it, vi } from 'vitest';

import type { Conversation, SearchHit } from '../api/types';
import { signIn } from '../test/helpers';
import { API, server } from '../test/server';

import { ConversationSidebar } from './ConversationSidebar';
import type { ConversationSidebarProps } from './ConversationSidebar';

const NOW = new Date(2026, 2, 10, 15, 0);

function daysAgo(days: number, hour = 10): string {
  return new Date(2026, 2, 10 - days, hour).toISOString();
}

function conversation(id: string, title: string | null, updatedAt: string): Conversation {
  return { id, kind: 'chat', title, created_at: updatedAt, updated_at: updatedAt };
}

const CONVERSATIONS: Conversation[] = [
  conversation('c-today', 'Trip plans', daysAgo(0)),
  conversation('c-yesterday', 'Kiwi recipes', daysAgo(1)),
  conversation('c-week', 'Tax questions', daysAgo(5)),
  conversation('c-old', null, daysAgo(40)),
  { ...conversation('c-onboarding', null, daysAgo(60)), kind: 'onboarding' },
];

function LocationProbe() {
  return <div data-testid="location">{useLocation().pathname}</div>;
}

function renderSidebar(overrides: Partial<ConversationSidebarProps> = {}) {
  const props: ConversationSidebarProps = {
    conversations: CONVERSATIONS,
    isLoading: false,
    error: null,
    activeId: 'c-today',
    userLabel: 'Ada',
    onNewChat: vi.fn(),
    onNavigate: vi.fn(),
    onLogout: vi.fn(),
    onRename: vi.fn(() => Promise.resolve()),
    onDelete: vi.fn(() => Promise.resolve()),
    now: NOW,
    ...overrides,
  };
  const user = userEvent.setup();
  render(
    <MemoryRouter initialEntries={['/chat/c-today']}>
      <ConversationSidebar {...props} />
      <LocationProbe />
    </MemoryRouter>,
  );
  return { user, props };
}

function group(name: string) {
  return screen.getByRole('region', { name });
}

describe('ConversationSidebar', () => {
  it('groups conversations by the day of their latest activity', () => {
    renderSidebar();
    const headings = screen.getAllByRole('heading', { level: 2 }).map((h) => h.textContent);
    expect(headings).toEqual(['Today', 'Yesterday', 'Previous 7 days', 'Older']);
    expect(within(group('Today')).getByRole('link', { name: 'Trip plans' })).toHaveAttribute(
      'aria-current',
      'page',
    );
    expect(within(group('Yesterday')).getByRole('link', { name: 'Kiwi recipes' })).toBeVisible();
    expect(within(group('Previous 7 days')).getByRole('link')).toHaveTextContent('Tax questions');
    const older = within(group('Older'))
      .getAllByRole('link')
      .map((link) => link.textContent);
    expect(older).toEqual(['New conversation', 'Getting to know you']);
  });

  it('renames in place: Enter saves the trimmed title, focus returns to Rename', async () => {
    const { user, props } = renderSidebar();
    await user.click(screen.getByRole('button', { name: 'Rename “Kiwi recipes”' }));
    const box = screen.getByRole('textbox', { name: 'Conversation title' });
    expect(box).toHaveFocus();
    expect(box).toHaveValue('Kiwi recipes');
    await user.clear(box);
    await user.type(box, '  Smoothies   and more {Enter}');
    expect(props.onRename).toHaveBeenCalledExactlyOnceWith('c-yesterday', 'Smoothies and more');
    await waitFor(() => {
      expect(screen.queryByRole('textbox', { name: 'Conversation title' })).toBeNull();
    });
    expect(screen.getByRole('button', { name: 'Rename “Kiwi recipes”' })).toHaveFocus();
  });

  it('Escape, or an empty or unchanged title, renames nothing', async () => {
    const { user, props } = renderSidebar();
    const rename = () => screen.getByRole('button', { name: 'Rename “Trip plans”' });
    await user.click(rename());
    await user.type(screen.getByRole('textbox', { name: 'Conversation title' }), 'Other{Escape}');
    expect(screen.queryByRole('textbox', { name: 'Conversation title' })).toBeNull();
    await user.click(rename());
    await user.clear(screen.getByRole('textbox', { name: 'Conversation title' }));
    await user.keyboard('{Enter}');
    await user.click(rename());
    await user.keyboard('{Enter}');
    expect(props.onRename).not.toHaveBeenCalled();
    expect(screen.getByRole('link', { name: 'Trip plans' })).toBeVisible();
  });

  it('leaving the title box saves it, once', async () => {
    const { user, props } = renderSidebar();
    await user.click(screen.getByRole('button', { name: 'Rename “Tax questions”' }));
    await user.type(screen.getByRole('textbox', { name: 'Conversation title' }), ' 2026');
    await user.click(screen.getByRole('searchbox', { name: 'Search conversations' }));
    expect(props.onRename).toHaveBeenCalledExactlyOnceWith('c-week', 'Tax questions 2026');
  });

  it('shows why a rename failed and keeps the edit open', async () => {
    const onRename = vi.fn(() => Promise.reject(new Error('title: The title is blank.')));
    const { user } = renderSidebar({ onRename });
    await user.click(screen.getByRole('button', { name: 'Rename “Trip plans”' }));
    await user.type(screen.getByRole('textbox', { name: 'Conversation title' }), '!{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('title: The title is blank.');
    expect(screen.getByRole('textbox', { name: 'Conversation title' })).toBeEnabled();
  });

  it('deletes only after a confirmation, which Cancel and Escape dismiss', async () => {
    const { user, props } = renderSidebar();
    const remove = screen.getByRole('button', { name: 'Delete “Tax questions”' });
    await user.click(remove);
    const confirm = screen.getByRole('group', { name: 'Delete “Tax questions”?' });
    expect(within(confirm).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    await user.click(within(confirm).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('group', { name: /Delete/ })).toBeNull();
    expect(screen.getByRole('button', { name: 'Delete “Tax questions”' })).toHaveFocus();

    await user.keyboard('{Enter}');
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('group', { name: /Delete/ })).toBeNull();
    expect(props.onDelete).not.toHaveBeenCalled();

    await user.click(screen.getByRole('button', { name: 'Delete “Tax questions”' }));
    await user.click(screen.getByRole('button', { name: 'Delete' }));
    expect(props.onDelete).toHaveBeenCalledExactlyOnceWith('c-week');
  });

  it('searches as the user types and opens the conversation of the chosen result', async () => {
    signIn();
    const queries: string[] = [];
    const hits: SearchHit[] = [
      {
        conversation_id: 'c-yesterday',
        conversation_title: 'Kiwi recipes',
        message_id: 'm-1',
        role: 'user',
        snippet: 'A kiwi smoothie with KIWIS',
        created_at: daysAgo(1),
      },
      {
        conversation_id: 'c-onboarding',
        conversation_title: null,
        message_id: 'm-2',
        role: 'assistant',
        snippet: 'You like kiwi.',
        created_at: daysAgo(60),
      },
    ];
    server.use(
      http.get(`${API}/chat/search`, ({ request }) => {
        queries.push(new URL(request.url).searchParams.get('q') ?? '');
        return HttpResponse.json({ items: hits });
      }),
    );
    const { user, props } = renderSidebar();
    await user.type(screen.getByRole('searchbox', { name: 'Search conversations' }), ' kiwi ');

    const results = await screen.findByRole('list', { name: 'Search results' });
    expect(queries).toEqual(['kiwi']); // one request once typing paused, trimmed
    expect(screen.getByRole('status')).toHaveTextContent('2 messages found.');
    expect(screen.queryByRole('heading', { name: 'Today' })).toBeNull();
    const links = within(results).getAllByRole('link');
    expect(links.map((l) => l.querySelector('span')?.textContent)).toEqual([
      'Kiwi recipes',
      'Getting to know you',
    ]);
    const marked = [...results.querySelectorAll('mark')].map((m) => m.textContent);
    expect(marked).toEqual(['kiwi', 'KIWIS', 'kiwi']);

    await user.click(links[1]!);
    expect(screen.getByTestId('location')).toHaveTextContent('/chat/c-onboarding');
    expect(props.onNavigate).toHaveBeenCalledOnce();
    expect(screen.getByRole('searchbox', { name: 'Search conversations' })).toHaveValue('');
    expect(screen.getByRole('heading', { name: 'Today' })).toBeVisible();
  });

  it('says when nothing matches, and Escape clears the search', async () => {
    signIn();
    server.use(http.get(`${API}/chat/search`, () => HttpResponse.json({ items: [] })));
    const { user } = renderSidebar();
    const box = screen.getByRole('searchbox', { name: 'Search conversations' });
    await user.type(box, 'zebra');
    expect(await screen.findByText('No messages match.')).toBeVisible();
    await user.keyboard('{Escape}');
    expect(box).toHaveValue('');
    expect(screen.getByRole('heading', { name: 'Today' })).toBeVisible();
  });
});
