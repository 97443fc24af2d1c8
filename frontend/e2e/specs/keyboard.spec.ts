// A chat turn with the keyboard alone: a sensible Tab order, Enter sends, Esc stops; the box
// keeps focus while the answer streams in; the polite status region announces the answer once.

import type { Page } from '@playwright/test';

import { expect, test } from '../support/fixtures';
import { PROSE, SERVERS } from '../support/servers';
import { composer, lastAssistant, normalise, shownText } from '../support/ui';

test.use(SERVERS.default);

/** Presses Tab from the focused element until focus is back on it; returns each stop's name. */
async function tabCycle(page: Page, max = 30): Promise<string[]> {
  const describe = () =>
    page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (el === null || el === document.body) return null; // past the end of the page
      const label = el.getAttribute('aria-label') ?? el.textContent.trim();
      return `${el.tagName.toLowerCase()}:${label}`;
    });
  const start = await describe();
  const names: string[] = [];
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    const name = await describe();
    if (name === null) continue;
    names.push(name);
    if (name === start) break;
  }
  return names;
}

/** Records every text the message list's polite status region takes. */
async function recordAnnouncements(page: Page): Promise<void> {
  await page.evaluate(() => {
    const region = document.querySelector(
      '[role="status"][aria-live="polite"][aria-atomic="true"]',
    );
    if (region === null) throw new Error('no polite status region');
    const said: string[] = [];
    (window as unknown as { __announcements: string[] }).__announcements = said;
    new MutationObserver(() => {
      const text = region.textContent;
      if (text !== '' && said.at(-1) !== text) said.push(text);
    }).observe(region, { childList: true, characterData: true, subtree: true });
  });
}

function announcements(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __announcements: string[] }).__announcements);
}

test('a chat turn by keyboard only: Tab order, Enter to send, Esc to stop, focus kept, one announcement', async ({
  page,
  account,
}) => {
  // Sign in without the mouse.
  await page.goto('/login');
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Email')).toBeFocused();
  await page.keyboard.type(account.email);
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Password')).toBeFocused();
  await page.keyboard.type(account.password);
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/chat$/);
  await expect(composer(page)).toBeFocused();

  // Tab order on the chat page, from the message box round to it again: its Send button, the
  // sidebar (new chat, search, the onboarding conversation with its Rename and Delete, theme,
  // settings, sign out), the conversation, the box.
  const order = await tabCycle(page);
  expect(order).toEqual([
    'button:Send',
    'button:New chat',
    'input:Search conversations',
    'a:Getting to know you',
    'button:Rename “Getting to know you”',
    'button:Delete “Getting to know you”',
    'button:Switch to light theme',
    'a:Settings',
    'button:Sign out',
    'div:Messages',
    'textarea:Message',
  ]);

  await composer(page).focus();
  await recordAnnouncements(page);
  await page.keyboard.type('What happens when I press Enter?');
  await page.keyboard.press('Enter');
  const answer = lastAssistant(page);
  await expect(answer).toHaveAttribute('data-streaming', 'true');
  await expect(composer(page)).toHaveValue('');

  // While chunks arrive, focus stays in the box (sampled on every frame until the answer ends).
  const focusSamples = await page.evaluate(
    () =>
      new Promise<string[]>((resolve) => {
        const seen: string[] = [];
        const tick = () => {
          const active = document.activeElement;
          seen.push(active?.getAttribute('aria-label') ?? active?.tagName ?? 'none');
          const last = [
            ...document.querySelectorAll<HTMLElement>(
              '[data-testid="message"][data-role="assistant"]',
            ),
          ].at(-1);
          if (last?.dataset.status === 'complete') resolve(seen);
          else requestAnimationFrame(tick);
        };
        tick();
      }),
  );
  expect(focusSamples.length).toBeGreaterThan(20);
  expect(new Set(focusSamples)).toEqual(new Set(['Message']));
  await expect(composer(page)).toBeFocused();
  expect(normalise(await shownText(answer))).toBe(normalise(PROSE));

  // The status region said the answer exactly once (and "typing" when it began); the log
  // itself was busy while it streamed, so screen readers did not read it token by token.
  await page.waitForTimeout(300);
  const said = await announcements(page);
  const replies = said.filter((text) => text.startsWith('Assistant replied:'));
  expect(replies).toHaveLength(1);
  // In plain words (its paragraphs one after the other), cut at a word within 300 characters.
  const spoken = PROSE.replace(/\s*\n\n\s*/g, ' ');
  const reply = replies[0]!.replace(/^Assistant replied: /, '');
  expect(reply.endsWith('…')).toBe(true);
  expect(reply.length).toBeLessThanOrEqual(301);
  expect(spoken.startsWith(reply.slice(0, -1))).toBe(true);
  expect(said).toEqual(['Assistant is typing…', replies[0]]);
  await expect(page.getByRole('log')).toHaveAttribute('aria-busy', 'false');

  // Esc stops the next answer; focus stays in the box, ready for the next message.
  await page.keyboard.type('Now stop this one.');
  await page.keyboard.press('Enter');
  await expect(lastAssistant(page)).toContainText('send each piece');
  await page.keyboard.press('Escape');
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'cancelled');
  await expect(composer(page)).toBeFocused();
  await expect.poll(() => announcements(page)).toContain('Answer stopped.');
  // Send is a real button: Tab to it and press Enter.
  await page.keyboard.type('And by button.');
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Send' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('log').getByText('And by button.')).toBeVisible();
});
