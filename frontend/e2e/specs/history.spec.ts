// A long conversation read backwards, against the real server: scrolling to the top loads the
// next earlier page by itself and "Load earlier messages" does the same, each keeping the
// message the reader was looking at where it was on screen; every stored message shows once,
// in order; axe finds nothing.

import { randomUUID } from 'node:crypto';

import type { Locator, Page } from '@playwright/test';

import type { ApiClient } from '../support/api';
import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import { snap, VIEWPORTS } from '../support/screenshots';
import { signIn } from '../support/ui';

/**
 * 50 turns: 100 messages. Opening shows the newest 16 (FIRST_PAGE_LIMIT in
 * src/chat/MessagePager.ts); earlier pages come 50 at a time: 16, then 50, then the last 34.
 */
const TURNS = 50;
const FIRST = 16;
const PAGE_SIZE = 50;
const LAST_PAGE = TURNS * 2 - FIRST - PAGE_SIZE;

// Short answers, written at once: seeding 65 turns takes seconds.
test.use({
  serverName: 'history',
  serverEnv: {
    SCRIPTED_TEXT: 'Noted. Here is the answer to that question, in a sentence or two.',
    SCRIPTED_CHUNK_DELAY_S: '0',
    RATE_LIMIT_MESSAGES_PER_HOUR: '1000',
  },
});

/** A conversation of `turns` numbered questions and their answers, each stored complete. */
async function longConversation(api: ApiClient, turns: number): Promise<string> {
  let conversationId: string | undefined;
  for (let n = 1; n <= turns; n += 1) {
    const turn = await api.startTurn({
      message: `Question ${n}`,
      client_message_id: randomUUID(),
      ...(conversationId === undefined ? {} : { conversation_id: conversationId }),
    });
    conversationId = turn.conversation_id;
    const id = conversationId;
    await expect
      .poll(async () => (await api.messages(id)).at(-1)?.status, { intervals: [50] })
      .toBe('complete');
  }
  if (conversationId === undefined) throw new Error('no turns');
  return conversationId;
}

function scroller(page: Page): Locator {
  return page.getByRole('region', { name: 'Messages' });
}

function shownIds(page: Page): Promise<string[]> {
  return page
    .getByRole('log')
    .getByTestId('message')
    .evaluateAll((items) => items.map((item) => item.getAttribute('data-message-id') ?? ''));
}

interface Place {
  id: string;
  /** Its top, relative to the top of the scroller's viewport. */
  top: number;
}

/**
 * Scrolls the view to `top` and says what the reader then sees at its top, in one step: the
 * scroll event (and the page it may ask for) comes after.
 */
function scrollTo(page: Page, top: number): Promise<Place> {
  return scroller(page).evaluate((view, to) => {
    view.scrollTop = to;
    const viewTop = view.getBoundingClientRect().top;
    for (const item of view.querySelectorAll('[data-message-id]')) {
      const rect = item.getBoundingClientRect();
      if (rect.bottom > viewTop) {
        return { id: item.getAttribute('data-message-id') ?? '', top: rect.top - viewTop };
      }
    }
    throw new Error('no message in view');
  }, top);
}

/** Where the message `id` is now, relative to the top of the scroller's viewport. */
function placeOf(page: Page, id: string): Promise<number> {
  return scroller(page).evaluate((view, messageId) => {
    const item = view.querySelector(`[data-message-id="${messageId}"]`);
    if (item === null) throw new Error(`message ${messageId} is gone`);
    return item.getBoundingClientRect().top - view.getBoundingClientRect().top;
  }, id);
}

function announcement(page: Page, text: string): Locator {
  return page.getByRole('status').filter({ hasText: text });
}

test('earlier pages load by scrolling to the top and by the button, the reader kept in place', async ({
  page,
  account,
  api,
}, testInfo) => {
  test.setTimeout(120_000);
  const conversationId = await longConversation(api, TURNS);
  const stored = (await api.messages(conversationId)).map((m) => m.id);
  expect(stored).toHaveLength(TURNS * 2);

  await page.setViewportSize(VIEWPORTS.wide);
  await signIn(page, account);
  await page.goto(`/chat/${conversationId}`);
  const shown = page.getByRole('log').getByTestId('message');
  await expect(shown).toHaveCount(FIRST);
  const loadEarlier = page.getByRole('button', { name: 'Load earlier messages' });
  await expect(loadEarlier).toBeVisible();
  // The view settles at the newest message first (it follows the conversation's end).
  await expect
    .poll(() => scroller(page).evaluate((v) => v.scrollHeight - v.scrollTop - v.clientHeight))
    .toBeLessThan(5);

  // The button, pressed while the reader is part way up (as a keyboard or screen-reader user
  // does without scrolling there): dispatched, so Playwright does not scroll it into view.
  const midway = await scrollTo(page, 300);
  expect(midway.id).not.toBe(stored.at(-FIRST));
  await loadEarlier.dispatchEvent('click');
  await expect(shown).toHaveCount(FIRST + PAGE_SIZE);
  expect(Math.abs((await placeOf(page, midway.id)) - midway.top)).toBeLessThanOrEqual(3);
  await expect(announcement(page, 'Loaded 50 earlier messages.')).toBeAttached();

  // Scrolling to the top loads the next (last) page by itself; the message that was at the top
  // stays where it was.
  await page.waitForTimeout(150);
  const atTop = await scrollTo(page, 0);
  expect(atTop.id).toBe(stored.at(-(FIRST + PAGE_SIZE)));
  await expect(shown).toHaveCount(TURNS * 2);
  expect(Math.abs((await placeOf(page, atTop.id)) - atTop.top)).toBeLessThanOrEqual(3);
  await expect(
    announcement(page, `Loaded ${LAST_PAGE} earlier messages: the start of the conversation.`),
  ).toBeAttached();
  // The server has no more: no button, and scrolling to the top again asks for nothing.
  await expect(loadEarlier).toHaveCount(0);
  const listings: string[] = [];
  page.on('request', (request) => {
    if (request.url().includes('/messages?')) listings.push(request.url());
  });
  await scrollTo(page, 0);
  await page.waitForTimeout(300);
  expect(listings).toEqual([]);

  // Every stored message once, in order: nothing doubled or missing where the pages meet.
  expect(await shownIds(page)).toEqual(stored);
  await expect(page.getByRole('log').getByText('Question 1', { exact: true })).toBeVisible();

  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const size of Object.values(VIEWPORTS)) {
      await page.setViewportSize(size);
      expect(await axeViolations(page), `${scheme}, ${size.width}px`).toEqual([]);
    }
    await snap(page, testInfo, `history-start-${scheme}`);
  }
});

test('on a phone, scrolling to the top loads each earlier page in turn, in place', async ({
  page,
  account,
  api,
}, testInfo) => {
  test.setTimeout(120_000);
  const conversationId = await longConversation(api, TURNS);
  const stored = (await api.messages(conversationId)).map((m) => m.id);

  await page.setViewportSize(VIEWPORTS.narrow);
  await signIn(page, account);
  await page.goto(`/chat/${conversationId}`);
  const shown = page.getByRole('log').getByTestId('message');
  await expect(shown).toHaveCount(FIRST);
  await expect
    .poll(() => scroller(page).evaluate((v) => v.scrollHeight - v.scrollTop - v.clientHeight))
    .toBeLessThan(5);

  for (const expected of [FIRST + PAGE_SIZE, TURNS * 2]) {
    // The reader scrolls up with the wheel, as far as it goes.
    await scroller(page).hover();
    await page.mouse.wheel(0, -400);
    await page.waitForTimeout(100);
    const before = await scrollTo(page, 0);
    await expect(shown).toHaveCount(expected);
    expect(Math.abs((await placeOf(page, before.id)) - before.top)).toBeLessThanOrEqual(3);
    await page.waitForTimeout(150);
  }
  expect(await shownIds(page)).toEqual(stored);
  await snap(page, testInfo, 'history-loaded-light');
});
