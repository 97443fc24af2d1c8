// Flow 1: a new person registers, is onboarded in a streamed conversation whose progress
// advances with each answer, and arrives in the chat.

import { newAccount } from '../support/api';
import { expect, test } from '../support/fixtures';
import { snap } from '../support/screenshots';
import { SERVERS } from '../support/servers';
import {
  assistantMessages,
  composer,
  lastAssistant,
  send,
  userTexts,
  waitForAnswer,
} from '../support/ui';

test.use(SERVERS.onboarding);

const NEXT_QUESTIONS = [
  'What do you do, for work or study?',
  'What would you like me to help you with?',
  'How should I answer: short and direct, or detailed with examples?',
];
const ANSWERS = [
  'Ada',
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
  await expect(progress).toHaveAttribute('value', '0');
  await expect(page.getByText('Step 1 of 4')).toBeVisible();
  // The assistant opens with its greeting and the first question.
  await expect(lastAssistant(page)).toContainText('What should I call you?');

  const percents: number[] = [];
  for (const [turn, answer] of ANSWERS.entries()) {
    await send(page, answer);
    await expect(lastAssistant(page)).toHaveAttribute('data-streaming', 'true');
    if (turn === 1) {
      await expect(lastAssistant(page)).toContainText('Thank you');
      await snap(page, testInfo, 'onboarding-streaming');
    }
    await waitForAnswer(page);
    const expected = Math.round(((turn + 1) / ANSWERS.length) * 100);
    await expect(progress).toHaveAttribute('value', String(expected));
    percents.push(Number(await progress.getAttribute('value')));
    if (turn === ANSWERS.length - 1) break;
    await expect(page.getByText(`Step ${turn + 2} of 4`)).toBeVisible();
    // Each reply ends with the next question, asked exactly as configured.
    await expect(lastAssistant(page)).toContainText(NEXT_QUESTIONS[turn] ?? '');
    if (turn === 1) await snap(page, testInfo, 'onboarding');
    if (turn === ANSWERS.length - 2) {
      await expect(userTexts(page)).toHaveText(ANSWERS.slice(0, -1));
      await expect(assistantMessages(page)).toHaveCount(ANSWERS.length); // greeting + 3 replies
    }
  }
  expect(percents).toEqual([25, 50, 75, 100]);
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
