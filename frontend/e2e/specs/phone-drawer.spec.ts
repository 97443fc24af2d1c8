// The conversation drawer on a phone, against the real server, while an answer is written: it
// takes focus, Tab and Shift+Tab stay inside it with the page behind inert, Esc closes it (and
// never stops the answer), and focus goes back to the button that opened it. axe: nothing.

import type { Page } from '@playwright/test';

import { axeViolations } from '../support/axe';
import { wordsShown } from '../support/counted';
import { expect, test } from '../support/fixtures';
import { snap, VIEWPORTS } from '../support/screenshots';
import { SERVERS } from '../support/servers';
import { lastAssistant, send, signIn, waitForAnswer } from '../support/ui';

test.use(SERVERS.durableSlow);

/** The focused element: inside the drawer or not, and its name. */
function focused(page: Page) {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return {
      inDrawer: el?.closest('#chat-sidebar') !== null,
      name: el === null ? '' : (el.getAttribute('aria-label') ?? el.textContent.trim()),
    };
  });
}

test('phone drawer: focus moves in and stays, Esc closes it without stopping the answer, focus goes back', async ({
  page,
  account,
}, testInfo) => {
  test.setTimeout(90_000);
  await page.setViewportSize(VIEWPORTS.narrow);
  await signIn(page, account);
  await send(page, 'Count for me, slowly.');
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'streaming');
  await expect.poll(() => wordsShown(page)).toBeGreaterThanOrEqual(3);

  const menu = page.getByRole('button', { name: 'Show conversations' });
  await menu.click();
  const drawer = page.getByRole('complementary', { name: 'Sidebar' });
  await expect(drawer).toBeVisible();
  await expect(page.getByRole('button', { name: 'New chat' })).toBeFocused();
  await expect(page.locator('main')).toHaveAttribute('inert', '');

  // Tab goes round the drawer's controls and never into the page behind; Shift+Tab too.
  const forward: string[] = [];
  for (let i = 0; i < 12; i += 1) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    expect(now.inDrawer, `Tab ${i + 1} reached ${now.name}`).toBe(true);
    forward.push(now.name);
  }
  expect(forward).toContain('New chat'); // round again
  expect(forward).toContain('Sign out');
  await page.getByRole('button', { name: 'New chat' }).focus();
  await page.keyboard.press('Shift+Tab');
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeFocused();
  for (let i = 0; i < 6; i += 1) {
    await page.keyboard.press('Shift+Tab');
    expect((await focused(page)).inDrawer).toBe(true);
  }

  // The open drawer over a streaming answer: no violations, light or dark.
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    expect(await axeViolations(page), scheme).toEqual([]);
  }
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await snap(page, testInfo, `drawer-open-streaming-${scheme}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await expect(drawer).toBeVisible(); // back at phone width, still open and modal
  await expect(page.locator('main')).toHaveAttribute('inert', '');

  // Esc closes the drawer, and only the drawer: the answer goes on being written.
  const before = await wordsShown(page);
  await page.keyboard.press('Escape');
  await expect(menu).toHaveAttribute('aria-expanded', 'false');
  await expect(menu).toBeFocused();
  await expect(page.locator('main')).not.toHaveAttribute('inert');
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'streaming');
  await expect.poll(() => wordsShown(page)).toBeGreaterThan(before);

  // Esc with focus on the page's background (a click in the drawer off its controls) too.
  await menu.click();
  await expect(page.getByRole('button', { name: 'New chat' })).toBeFocused();
  await page.evaluate(() => {
    (document.activeElement as HTMLElement | null)?.blur();
  });
  await page.keyboard.press('Escape');
  await expect(menu).toHaveAttribute('aria-expanded', 'false');
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'streaming');

  // Closed, Esc stops the answer as before; here it is left to finish, as stored.
  const answer = await waitForAnswer(page, 40_000);
  await expect(answer).toHaveAttribute('data-status', 'complete');
  await snap(page, testInfo, 'drawer-closed-answer-complete');
});

test('desktop: the sidebar is a column, never modal, and Esc still stops the answer', async ({
  page,
  account,
}) => {
  await page.setViewportSize(VIEWPORTS.wide);
  await signIn(page, account);
  await expect(page.getByRole('button', { name: 'Show conversations' })).toBeHidden();
  await send(page, 'Count, then stop.');
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'streaming');
  await expect(page.locator('main')).not.toHaveAttribute('inert');
  await page.getByRole('button', { name: 'New chat' }).focus();
  await page.keyboard.press('Escape');
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'cancelled');
});
