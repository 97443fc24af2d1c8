// axe-core finds no violations on the sign-in, sign-up, onboarding and chat pages, idle and
// while an answer streams, at a phone's width and a desktop's.

import type { Page } from '@playwright/test';

import { ApiClient, newAccount } from '../support/api';
import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import { snap, VIEWPORTS } from '../support/screenshots';
import { SERVERS } from '../support/servers';
import { composer, lastAssistant, send, signIn } from '../support/ui';

// Long answers: the checks made "while streaming" finish well before the answer does.
test.use(SERVERS.slow);

/** axe at both widths; returns the violations found, labelled with the width. */
async function violationsAtBothWidths(page: Page) {
  const found = [];
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    for (const violation of await axeViolations(page)) found.push({ width: label, ...violation });
  }
  return found;
}

async function expectStillStreaming(page: Page) {
  await expect(lastAssistant(page)).toHaveAttribute('data-streaming', 'true', { timeout: 1 });
}

test('sign-in and sign-up pages have no axe violations', async ({ page }, testInfo) => {
  await page.goto('/login');
  await expect(page.getByRole('heading', { name: 'Welcome back' })).toBeVisible();
  await snap(page, testInfo, 'login');
  expect(await violationsAtBothWidths(page)).toEqual([]);
  // The error state too.
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Email').fill('nobody@example.com');
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toBeVisible();
  expect(await violationsAtBothWidths(page)).toEqual([]);

  await page.goto('/register');
  await expect(page.getByRole('heading', { name: 'Create your account' })).toBeVisible();
  await snap(page, testInfo, 'register');
  expect(await violationsAtBothWidths(page)).toEqual([]);
});

test('onboarding has no axe violations, idle and while streaming', async ({ page, testServer }) => {
  const account = newAccount('a11y-onboarding');
  await new ApiClient(testServer.url).register(account);
  await signIn(page, account, /\/onboarding$/);
  // The name came with registration: the first question asked is the second.
  await expect(lastAssistant(page)).toContainText('What do you do, for work or study?');
  expect(await violationsAtBothWidths(page)).toEqual([]);

  await send(page, 'Ada');
  await expect(lastAssistant(page)).toContainText('EventSource');
  await expectStillStreaming(page);
  expect(await violationsAtBothWidths(page)).toEqual([]);
  await expectStillStreaming(page);
  await page.keyboard.press('Escape');
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'cancelled');
});

test('the chat has no axe violations: empty, while streaming, and with a conversation', async ({
  page,
  account,
}) => {
  await signIn(page, account);
  await expect(page.getByRole('heading', { name: 'How can I help you today?' })).toBeVisible();
  expect(await violationsAtBothWidths(page)).toEqual([]);

  await send(page, 'Explain streaming, at length.');
  await expect(lastAssistant(page)).toContainText('EventSource');
  await expectStillStreaming(page);
  expect(await violationsAtBothWidths(page)).toEqual([]);
  await expectStillStreaming(page);

  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(lastAssistant(page)).toContainText('Stopped');
  await expect(composer(page)).toBeFocused();
  expect(await violationsAtBothWidths(page)).toEqual([]);

  // The dark theme (from the system preference) meets the same bar.
  await page.emulateMedia({ colorScheme: 'dark' });
  expect(await violationsAtBothWidths(page)).toEqual([]);

  // The conversation drawer on a phone, open.
  await page.setViewportSize(VIEWPORTS.narrow);
  await page.getByRole('button', { name: 'Show conversations' }).click();
  await expect(page.getByRole('button', { name: 'New chat' })).toBeVisible();
  expect(await axeViolations(page)).toEqual([]);
});
