// Settings: reached from the chat by keyboard, it shows the display name and every onboarding
// answer under its question; a blank or too long value is pointed at beside its field and
// nothing is saved or lost; a saved edit is in the very next answer's system prompt (the model
// of this server answers with its prompt, so the page and the stored answer show it).

import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import type { Page } from '../support/fixtures';
import { snap, VIEWPORTS } from '../support/screenshots';
import { SERVERS } from '../support/servers';
import { lastAssistant, send, signIn, waitForAnswer } from '../support/ui';

test.use(SERVERS.promptEcho);

const ROLE = 'What do you do, for work or study?';
const GOALS = 'What would you like me to help you with?';

async function violationsAtBothWidths(page: Page) {
  const found = [];
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    for (const violation of await axeViolations(page)) found.push({ width: label, ...violation });
  }
  return found;
}

/** Presses Tab until the link has focus, as a keyboard user finds it. */
async function tabTo(page: Page, name: string) {
  const link = page.getByRole('link', { name });
  for (let presses = 0; presses < 60; presses += 1) {
    if (await link.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached the ${name} link`);
}

test('edit the profile in settings, refused mistakes kept in place, and the next answer uses it', async ({
  page,
  account,
  api,
}, testInfo) => {
  await signIn(page, account);
  await tabTo(page, 'Settings');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
  await expect(page).toHaveTitle('Settings · ChatStream');

  const name = page.getByRole('textbox', { name: 'Display name' });
  const role = page.getByRole('textbox', { name: ROLE });
  const goals = page.getByRole('textbox', { name: GOALS });
  await expect(name).toHaveValue(account.displayName);
  // The seeded user's onboarding answers, each under its question.
  await expect(page.getByRole('textbox', { name: 'What should I call you?' })).toHaveValue(
    account.displayName,
  );
  await expect(role).toHaveValue('I build software.');
  await expect(goals).toHaveValue('Understanding how streaming works.');

  expect(await violationsAtBothWidths(page)).toEqual([]);
  await snap(page, testInfo, 'settings-light');
  await page.emulateMedia({ colorScheme: 'dark' });
  expect(await violationsAtBothWidths(page)).toEqual([]);
  await snap(page, testInfo, 'settings-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Mistakes: a blank name and an answer over 500 characters. Nothing is sent or lost.
  const tooLong = 'y'.repeat(501);
  await name.fill('   ');
  await goals.fill(tooLong);
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(name).toBeFocused();
  await expect(name).toHaveAttribute('aria-invalid', 'true');
  await expect(name).toHaveAccessibleDescription(/Enter a display name\./);
  await expect(goals).toHaveAttribute('aria-invalid', 'true');
  await expect(goals).toHaveAccessibleDescription(
    'The answer is 501 characters long; the limit is 500.',
  );
  await expect(goals).toHaveValue(tooLong);
  expect(await violationsAtBothWidths(page)).toEqual([]);
  await snap(page, testInfo, 'settings-errors');
  await page.setViewportSize({ width: 1280, height: 800 });
  expect((await api.me()).display_name).toBe(account.displayName);

  // Fixed and saved.
  await name.fill('Countess Ada');
  await role.fill('lighthouse keeper');
  await goals.fill('Charting the coast at night.');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
  await expect(name).toHaveAttribute('aria-invalid', 'false');
  expect((await api.me()).display_name).toBe('Countess Ada');
  const stored = Object.fromEntries(
    (await api.onboardingAnswers()).items.map((item) => [item.key, item.answer]),
  );
  expect(stored).toMatchObject({
    role: 'lighthouse keeper',
    goals: 'Charting the coast at night.',
  });

  // Back in the chat, the next answer's system prompt says what was saved.
  await page.getByRole('link', { name: 'Back to chat' }).click();
  await expect(page).toHaveURL(/\/chat$/);
  await expect(page.getByTitle('Countess Ada')).toBeVisible(); // the sidebar's account
  await send(page, 'Who am I?');
  await waitForAnswer(page);
  await expect(lastAssistant(page)).toContainText('What they do: lighthouse keeper');
  await expect(lastAssistant(page)).toContainText(
    'What they want help with: Charting the coast at night.',
  );
  const [, answer] = await api.latestChatMessages();
  expect(answer?.content).toContain('- What they do: lighthouse keeper');
  expect(answer?.content).not.toContain('I build software.');
});

test('on a phone, settings is in the conversations drawer', async ({ page, account }) => {
  await page.setViewportSize(VIEWPORTS.narrow);
  await signIn(page, account);
  await page.getByRole('button', { name: 'Show conversations' }).click();
  await page.getByRole('link', { name: 'Settings' }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByRole('textbox', { name: 'Display name' })).toHaveValue(
    account.displayName,
  );
});
