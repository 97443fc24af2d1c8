// Finding conversations in the browser, against the real server: the sidebar groups them by
// date, renames one in place, deletes one after a confirmation (its answer in flight stopped),
// and searches the user's messages; the browser tab is titled after the open conversation.

import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';

import type { Locator, Page, TestInfo } from '@playwright/test';

import type { ApiClient } from '../support/api';
import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import { BACKEND_DIR } from '../support/paths';
import { snap, VIEWPORTS } from '../support/screenshots';
import { lastAssistant, send, signIn } from '../support/ui';

const PYTHON = path.join(BACKEND_DIR, '.venv', 'bin', 'python');

// Moves a conversation's last activity `days` back, in the server's SQLite file: the only way
// to have conversations of other days without waiting for them.
const BACKDATE = `
import sqlite3, sys
from datetime import datetime, timedelta, timezone
database, conversation_id, days = sys.argv[1], sys.argv[2], float(sys.argv[3])
when = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=days)
with sqlite3.connect(database, timeout=10) as connection:
    changed = connection.execute(
        "UPDATE conversations SET updated_at = ? WHERE id = ?",
        (when.strftime("%Y-%m-%d %H:%M:%S.%f"), conversation_id.replace("-", "")),
    ).rowcount
assert changed == 1, changed
`;

function backdate(dataDir: string, conversationId: string, days: number): void {
  const database = path.join(dataDir, 'chatstream.db');
  execFileSync(PYTHON, ['-c', BACKDATE, database, conversationId, String(days)]);
}

// Gives the account `count` more conversations, "Archived 1" (the newest) to "Archived N", a
// day back and a minute apart, written to the server's SQLite file: a long history without
// sending each of its messages.
const SEED = `
import sqlite3, sys, uuid
from datetime import datetime, timedelta, timezone
database, email, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
newest = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=1)
with sqlite3.connect(database, timeout=10) as connection:
    (user_id,) = connection.execute("SELECT id FROM users WHERE email = ?", (email,)).fetchone()
    for i in range(1, count + 1):
        when = (newest - timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S.%f")
        connection.execute(
            "INSERT INTO conversations (id, user_id, kind, title, created_at, updated_at)"
            " VALUES (?, ?, 'chat', ?, ?, ?)",
            (uuid.uuid4().hex, user_id, f"Archived {i}", when, when),
        )
`;

function seedConversations(dataDir: string, email: string, count: number): void {
  const database = path.join(dataDir, 'chatstream.db');
  execFileSync(PYTHON, ['-c', SEED, database, email, String(count)]);
}

/** A conversation started through the API, once its (short) answer is stored. */
async function conversationWith(api: ApiClient, message: string): Promise<string> {
  const turn = await api.startTurn({ message, client_message_id: randomUUID() });
  await expect
    .poll(async () => (await api.messages(turn.conversation_id)).at(-1)?.status)
    .toBe('complete');
  return turn.conversation_id;
}

function sidebar(page: Page): Locator {
  return page.getByRole('navigation', { name: 'Conversations' });
}

function group(page: Page, name: string): Locator {
  return sidebar(page).getByRole('region', { name });
}

async function expectNoAxeViolations(page: Page): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const size of Object.values(VIEWPORTS)) {
      await page.setViewportSize(size);
      expect(await axeViolations(page), `${scheme}, ${size.width}px`).toEqual([]);
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** On a phone's width, with the conversation drawer open. */
async function showSidebarOnPhone(page: Page): Promise<void> {
  await page.setViewportSize(VIEWPORTS.narrow);
  const menu = page.getByRole('button', { name: 'Show conversations' });
  if ((await menu.getAttribute('aria-expanded')) !== 'true') await menu.click();
}

/** Screenshots at both widths, light and dark (the drawer, if open, stays open). */
async function snapBothSchemes(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await snap(page, testInfo, `${name}-${scheme}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

// Answers of ~6 s: long enough to delete a conversation while one is written, short enough to
// wait for the ones a test starts through the API.
test.use({
  serverName: 'conversations',
  serverEnv: {
    SCRIPTED_TEXT: 'Noted, thank you. ',
    SCRIPTED_CHUNKS: '60',
    SCRIPTED_CHUNK_DELAY_S: '0.1',
  },
});

test('conversations are grouped by date, renamed in place and the tab follows the title', async ({
  page,
  account,
  api,
  testServer,
}, testInfo) => {
  const [older, lastWeek, yesterday] = await Promise.all([
    conversationWith(api, 'Planning the garden shed'),
    conversationWith(api, 'Quarterly tax questions'),
    conversationWith(api, 'Kiwi smoothie recipes'),
    conversationWith(api, 'Trip to Lisbon'),
  ]);
  const [onboarding] = (await api.conversations('onboarding')).items;
  backdate(testServer.server.dataDir, onboarding?.id ?? 'none', 60);
  backdate(testServer.server.dataDir, older, 40);
  backdate(testServer.server.dataDir, lastWeek, 4);
  backdate(testServer.server.dataDir, yesterday, 1);

  await signIn(page, account);
  await expect(sidebar(page).getByRole('heading')).toHaveText([
    'Today',
    'Yesterday',
    'Previous 7 days',
    'Older',
  ]);
  await expect(group(page, 'Today').getByRole('link')).toHaveText(['Trip to Lisbon']);
  await expect(group(page, 'Yesterday').getByRole('link')).toHaveText(['Kiwi smoothie recipes']);
  await expect(group(page, 'Previous 7 days').getByRole('link')).toHaveText([
    'Quarterly tax questions',
  ]);
  // The onboarding conversation is there to reopen.
  await expect(group(page, 'Older').getByRole('link')).toHaveText([
    'Planning the garden shed',
    'Getting to know you',
  ]);
  await expect(page).toHaveTitle('New chat · ChatStream');

  await sidebar(page).getByRole('link', { name: 'Kiwi smoothie recipes' }).click();
  await expect(page).toHaveTitle('Kiwi smoothie recipes · ChatStream');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Kiwi smoothie recipes');

  // Rename in place, on a phone: Enter saves, focus goes back to Rename.
  await showSidebarOnPhone(page);
  await sidebar(page).getByRole('button', { name: 'Rename “Kiwi smoothie recipes”' }).click();
  const box = sidebar(page).getByRole('textbox', { name: 'Conversation title' });
  await expect(box).toBeFocused();
  await expect(box).toHaveValue('Kiwi smoothie recipes');
  await snapBothSchemes(page, testInfo, 'conversations-rename');
  await box.fill('  Green smoothies  ');
  await box.press('Enter');
  await expect(group(page, 'Yesterday').getByRole('link')).toHaveText(['Green smoothies']);
  await expect(
    sidebar(page).getByRole('button', { name: 'Rename “Green smoothies”' }),
  ).toBeFocused();
  await expect(page).toHaveTitle('Green smoothies · ChatStream');
  // Escape cancels.
  await sidebar(page).getByRole('button', { name: 'Rename “Trip to Lisbon”' }).click();
  await box.fill('Not this');
  await box.press('Escape');
  await expect(group(page, 'Today').getByRole('link')).toHaveText(['Trip to Lisbon']);

  await page.setViewportSize(VIEWPORTS.wide);
  const stored = await api.conversations('chat');
  expect(stored.items.find((c) => c.id === yesterday)?.title).toBe('Green smoothies');
  await page.reload();
  await expect(group(page, 'Yesterday').getByRole('link')).toHaveText(['Green smoothies']);
  await expect(page).toHaveTitle('Green smoothies · ChatStream');

  await expectNoAxeViolations(page);
  await showSidebarOnPhone(page);
  await snapBothSchemes(page, testInfo, 'conversations-grouped');
  await page.setViewportSize(VIEWPORTS.wide);

  // The onboarding conversation opens to read, without a message box.
  await sidebar(page).getByRole('link', { name: 'Getting to know you' }).click();
  await expect(page).toHaveTitle('Getting to know you · ChatStream');
  await expect(lastAssistant(page)).toBeVisible();
  await expect(page.getByText(/kept here to read/)).toBeVisible();
  await expect(page.getByRole('textbox', { name: 'Message' })).toHaveCount(0);
});

test('search finds the user’s messages, marks the words, and opens the conversation', async ({
  page,
  account,
  api,
}, testInfo) => {
  const [kiwi] = await Promise.all([
    conversationWith(api, 'How ripe should a kiwi be for a smoothie?'),
    conversationWith(api, 'Packing list for the Lisbon trip'),
    conversationWith(api, 'Is kiwifruit the same as a kiwi bird?'),
  ]);

  await signIn(page, account);
  const search = page.getByRole('searchbox', { name: 'Search conversations' });
  await search.fill('kiwi smoothie');
  const results = page.getByRole('list', { name: 'Search results' });
  await expect(results.getByRole('link')).toHaveCount(1);
  await expect(results.locator('mark')).toHaveText(['kiwi', 'smoothie']);
  await expect(page.getByRole('status').filter({ hasText: 'found' })).toHaveText(
    '1 message found.',
  );

  await search.fill('kiwi');
  await expect(results.getByRole('link')).toHaveCount(2);
  await expectNoAxeViolations(page);
  await showSidebarOnPhone(page);
  await snapBothSchemes(page, testInfo, 'conversations-search');
  await page.setViewportSize(VIEWPORTS.wide);

  // Query syntax typed by the user is only words: never an error.
  for (const text of ['"', 'NEAR(kiwi', '-kiwi*', 'kiwi OR "bird', ':*&|!']) {
    await search.fill(text);
    await expect(page.getByRole('status').filter({ hasText: /found|No messages/ })).toBeVisible();
    await expect(sidebar(page).getByRole('alert')).toHaveCount(0);
  }
  await search.fill('zebra');
  await expect(sidebar(page).getByText('No messages match.')).toBeVisible();

  await search.fill('ripe');
  await results.getByRole('link').first().click();
  await expect(page).toHaveURL(new RegExp(`/chat/${kiwi}$`));
  await expect(page).toHaveTitle('How ripe should a kiwi be for a smoothie? · ChatStream');
  await expect(page.getByRole('log')).toContainText('How ripe should a kiwi be');
  await expect(search).toHaveValue('');
  await expect(sidebar(page).getByRole('heading', { name: 'Today' })).toBeVisible();
});

test('deleting a conversation asks first, stops its answer in flight and removes it', async ({
  page,
  account,
  api,
}, testInfo) => {
  await signIn(page, account);
  await send(page, 'Tell me about streaming, at length.');
  await expect(lastAssistant(page)).toHaveAttribute('data-streaming', 'true');
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  const conversationId = page.url().split('/').at(-1) ?? '';
  const title = 'Tell me about streaming, at length.';
  await expect(page).toHaveTitle(`${title} · ChatStream`);

  await sidebar(page)
    .getByRole('button', { name: `Delete “${title}”` })
    .click();
  const confirm = sidebar(page).getByRole('group', { name: `Delete “${title}”?` });
  await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await expect(confirm).toHaveCount(0);
  await expect(lastAssistant(page)).toHaveAttribute('data-streaming', 'true');

  await sidebar(page)
    .getByRole('button', { name: `Delete “${title}”` })
    .click();
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await expect(page).toHaveURL(/\/chat$/);
  await expect(page).toHaveTitle('New chat · ChatStream');
  await expect(sidebar(page).getByRole('link', { name: title })).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'How can I help you today?' })).toBeVisible();

  const chats = await api.conversations('chat');
  expect(chats.items.map((c) => c.id)).not.toContain(conversationId);
  await expect(api.messages(conversationId)).rejects.toThrow(/404/);
  await page.reload();
  await expect(sidebar(page).getByRole('link', { name: title })).toHaveCount(0);

  // The confirmation, looked at and checked at rest.
  await showSidebarOnPhone(page);
  await sidebar(page).getByRole('button', { name: 'Delete “Getting to know you”' }).click();
  await expect(
    sidebar(page).getByRole('group', { name: 'Delete “Getting to know you”?' }),
  ).toBeVisible();
  expect(await axeViolations(page)).toEqual([]);
  await snapBothSchemes(page, testInfo, 'conversations-delete-confirm');
});

test('a long history loads a page at a time as the sidebar scrolls, and any of it opens', async ({
  page,
  account,
  api,
  testServer,
}) => {
  seedConversations(testServer.server.dataDir, account.email, 120);
  const [onboarding] = (await api.conversations('onboarding')).items;
  backdate(testServer.server.dataDir, onboarding?.id ?? 'none', 60);
  const links = sidebar(page).getByRole('link');

  await signIn(page, account);
  await expect(links.first()).toHaveText('Archived 1');
  // The first page only (the onboarding conversation, older than every archived one, is last).
  await expect(links).toHaveCount(50);
  await expect(links.last()).toHaveText('Archived 50');
  const more = sidebar(page).getByRole('button', { name: 'Show more conversations' });
  await expect(more).toBeAttached();
  expect(await axeViolations(page)).toEqual([]);

  // Scrolling to the end brings the next page, and the next, without a click.
  await links.last().scrollIntoViewIfNeeded();
  await expect(links).toHaveCount(100);
  await links.last().scrollIntoViewIfNeeded();
  await expect(links).toHaveCount(121);
  await expect(links.last()).toHaveText('Getting to know you');
  const titles = await links.allTextContents();
  expect(new Set(titles).size).toBe(121);
  await expect(more).toHaveCount(0);

  // One far down opens from the list, and by its address after a reload: the header knows it
  // though the first page does not hold it, and the sidebar shows it apart, open, with its
  // Rename and Delete.
  await sidebar(page).getByRole('link', { name: 'Archived 117' }).click();
  await expect(page).toHaveTitle('Archived 117 · ChatStream');
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Archived 117');
  await expect(page).toHaveTitle('Archived 117 · ChatStream');
  const openNow = group(page, 'Open now');
  await expect(openNow.getByRole('link')).toHaveText('Archived 117');
  await expect(openNow.getByRole('link')).toHaveAttribute('aria-current', 'page');
  await expect(links).toHaveCount(51);
  await expectNoAxeViolations(page);
  await page.setViewportSize(VIEWPORTS.wide);
  await openNow.getByRole('button', { name: 'Rename “Archived 117”' }).click();
  await openNow.getByRole('textbox', { name: 'Conversation title' }).fill('Kept for later');
  await openNow.getByRole('textbox', { name: 'Conversation title' }).press('Enter');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Kept for later');
  await expect(openNow.getByRole('link')).toHaveText('Kept for later');
  const server = await api.conversations('chat');
  expect(server.items).toHaveLength(50);
  expect(server.has_more).toBe(true);
});
