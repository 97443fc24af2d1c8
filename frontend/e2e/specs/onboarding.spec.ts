// Flow 1: a new person registers, is onboarded in a streamed conversation whose progress
// advances with each answer (never asked again for the name they typed), and arrives in the
// chat. Skip goes there at once, keeping the answers so far; Sign out leaves the onboarding.

import { ApiClient, newAccount } from '../support/api';
import type { Account } from '../support/api';
import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import type { Page } from '../support/fixtures';
import { snap, VIEWPORTS } from '../support/screenshots';
import { SERVERS } from '../support/servers';
import {
  assistantMessages,
  composer,
  lastAssistant,
  send,
  signIn,
  userTexts,
  waitForAnswer,
} from '../support/ui';

test.use(SERVERS.onboarding);

async function violationsAtBothWidths(page: Page) {
  const found = [];
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    for (const violation of await axeViolations(page)) found.push({ width: label, ...violation });
  }
  return found;
}

const NAME_QUESTION = 'What should I call you?';
const NEXT_QUESTIONS = [
  'What would you like me to help you with?',
  'How should I answer: short and direct, or detailed with examples?',
];
/** The name came with registration: three questions are left. */
const ANSWERS = [
  'I build software for a small team.',
  'Explaining code reviews.',
  'Short and direct, please.',
];

test('register, answer every onboarding question with progress advancing, then chat', async ({
  page,
}, testInfo) => {
  const account = newAccount('onboarding');
  await page.goto('/register');
  await expect(page.getByRole('heading', { name: 'Create your account' })).toBeVisible();
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Name (optional)').fill(account.displayName);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Create account' }).click();

  await expect(page).toHaveURL(/\/onboarding$/);
  await expect(
    page.getByRole('heading', { name: `Welcome, ${account.displayName}` }),
  ).toBeVisible();
  const progress = page.getByRole('progressbar', { name: 'Onboarding progress' });
  // The name typed a moment ago is not asked for again: the onboarding starts at question 2.
  await expect(progress).toHaveAttribute('value', '25');
  await expect(page.getByText('Step 2 of 4')).toBeVisible();
  await expect(lastAssistant(page)).toContainText(`Hi ${account.displayName}!`);
  await expect(lastAssistant(page)).toContainText('3 quick questions');
  await expect(lastAssistant(page)).toContainText('What do you do, for work or study?');
  await expect(page.getByText(NAME_QUESTION)).toHaveCount(0);

  const percents: number[] = [];
  for (const [turn, answer] of ANSWERS.entries()) {
    await send(page, answer);
    await expect(lastAssistant(page)).toHaveAttribute('data-streaming', 'true');
    if (turn === 1) {
      await expect(lastAssistant(page)).toContainText('Thank you');
      await snap(page, testInfo, 'onboarding-streaming');
    }
    await waitForAnswer(page);
    const expected = Math.round(((turn + 2) / 4) * 100);
    await expect(progress).toHaveAttribute('value', String(expected));
    percents.push(Number(await progress.getAttribute('value')));
    if (turn === ANSWERS.length - 1) break;
    await expect(page.getByText(`Step ${turn + 3} of 4`)).toBeVisible();
    // Each reply ends with the next question, asked exactly as configured.
    await expect(lastAssistant(page)).toContainText(NEXT_QUESTIONS[turn] ?? '');
    if (turn === 0) await snap(page, testInfo, 'onboarding');
    if (turn === ANSWERS.length - 2) {
      await expect(userTexts(page)).toHaveText(ANSWERS.slice(0, -1));
      await expect(assistantMessages(page)).toHaveCount(ANSWERS.length); // greeting + 2 replies
    }
  }
  expect(percents).toEqual([50, 75, 100]);
  await expect(page.getByText(NAME_QUESTION)).toHaveCount(0);
  await expect(page.getByText('All done')).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: "You're all set." })).toBeVisible();

  // The page moves on to the chat by itself.
  await expect(page).toHaveURL(/\/chat$/, { timeout: 10_000 });
  await expect(page.getByRole('heading', { name: 'How can I help you today?' })).toBeVisible();
  await expect(composer(page)).toBeFocused();
  // Onboarding is over: going back there leads to the chat.
  await page.goto('/onboarding');
  await expect(page).toHaveURL(/\/chat$/);
});

/** A new account, registered through the API, that has not been onboarded; no name: ''. */
async function onboardingUser(api: ApiClient, displayName: string): Promise<Account> {
  const account = { ...newAccount('onboarding'), displayName };
  await api.register(account);
  return account;
}

test('Skip keeps the answers so far and goes to the chat; onboarding is then done', async ({
  page,
  testServer,
}, testInfo) => {
  const api = new ApiClient(testServer.url);
  const account = await onboardingUser(api, 'Grace');
  await signIn(page, account, /\/onboarding$/);
  await expect(lastAssistant(page)).toContainText('What do you do, for work or study?');
  const skip = page.getByRole('button', { name: 'Skip for now' });
  await expect(skip).toHaveAccessibleDescription(
    'You can change your answers any time in Settings.',
  );
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();

  expect(await violationsAtBothWidths(page)).toEqual([]);
  await snap(page, testInfo, 'onboarding-skip-light');
  await page.emulateMedia({ colorScheme: 'dark' });
  expect(await violationsAtBothWidths(page)).toEqual([]);
  await snap(page, testInfo, 'onboarding-skip-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });

  await send(page, 'I map coastlines.');
  await waitForAnswer(page);
  await expect(lastAssistant(page)).toContainText('What would you like me to help you with?');
  await skip.focus();
  await page.keyboard.press('Enter');

  await expect(page).toHaveURL(/\/chat$/);
  await expect(page.getByRole('heading', { name: 'How can I help you today?' })).toBeVisible();
  await api.login(account);
  expect((await api.onboarding()).completed).toBe(true);
  const answers = Object.fromEntries(
    (await api.onboardingAnswers()).items.map((item) => [item.key, item.answer]),
  );
  expect(answers).toEqual({ name: 'Grace', role: 'I map coastlines.', goals: null, style: null });
  // Onboarding is over: going back there leads to the chat.
  await page.goto('/onboarding');
  await expect(page).toHaveURL(/\/chat$/);
});

test('without a name at registration the name is asked; Sign out leaves the onboarding', async ({
  page,
  testServer,
}) => {
  const api = new ApiClient(testServer.url);
  const account = await onboardingUser(api, '');
  await signIn(page, account, /\/onboarding$/);
  await expect(page.getByRole('heading', { name: 'Welcome' })).toBeVisible();
  await expect(page.getByText('Step 1 of 4')).toBeVisible();
  await expect(lastAssistant(page)).toContainText(NAME_QUESTION);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/onboarding');
  await expect(page).toHaveURL(/\/login$/);
  // Nothing was skipped on the way out.
  await api.login(account);
  expect((await api.onboarding()).completed).toBe(false);
});
