// What a person does and sees in the app, as locators and small steps the specs share.

import { expect } from '@playwright/test';
import type { Locator, Page } from '@playwright/test';

import type { Account } from './api';

/**
 * Signs in on the page's own server, or at `origin` (another one, e.g. a proxy in front). A
 * session this browser already holds there is resumed instead: the refresh cookie belongs to
 * the host, whatever the port, so a proxy on 127.0.0.1 shares the server's sign-in.
 */
export async function signIn(
  page: Page,
  account: Account,
  landing = /\/chat(\/|$)/,
  origin = '',
): Promise<void> {
  // The page first tries the refresh cookie (or a stored access token): wait for its outcome,
  // or the form would be filled in just as the page leaves for the chat.
  const refreshed = page
    .waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/auth/refresh')
    .then((response) => (response.ok() ? 'resumed' : 'form'))
    .catch(() => 'form');
  await page.goto(`${origin}/login`);
  const left = page
    .waitForURL((url) => !url.pathname.endsWith('/login'))
    .then(() => 'resumed')
    .catch(() => 'form');
  if ((await Promise.race([refreshed, left])) === 'resumed') {
    await expect(page).toHaveURL(landing);
    return;
  }
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(landing);
}

export function composer(page: Page): Locator {
  return page.getByRole('textbox', { name: /^(Message|Your answer)$/ });
}

export function messages(page: Page): Locator {
  return page.getByRole('log').getByTestId('message');
}

export function assistantMessages(page: Page): Locator {
  return page.getByRole('log').locator('[data-testid="message"][data-role="assistant"]');
}

export function userMessages(page: Page): Locator {
  return page.getByRole('log').locator('[data-testid="message"][data-role="user"]');
}

/** The text of each user message (without the screen-reader prefix). */
export function userTexts(page: Page): Locator {
  return userMessages(page).getByTestId('message-text');
}

export function lastAssistant(page: Page): Locator {
  return assistantMessages(page).last();
}

export async function send(page: Page, text: string): Promise<void> {
  const box = composer(page);
  await box.fill(text);
  await box.press('Enter');
}

/** Waits for the last answer to finish writing (status complete, no typing cursor). */
export async function waitForAnswer(page: Page, timeout = 30_000): Promise<Locator> {
  const answer = lastAssistant(page);
  await expect(answer).toHaveAttribute('data-status', 'complete', { timeout });
  await expect(answer.getByTestId('typing-indicator')).toHaveCount(0);
  return answer;
}

/** The text a message shows: its rendered markdown (or the user's text), nothing else. */
export async function shownText(message: Locator): Promise<string> {
  return message.evaluate((el) => {
    const body = el.querySelector<HTMLElement>('[data-testid="message-text"]');
    return body?.innerText ?? '';
  });
}

/** Collapses whitespace, so rendered paragraphs compare equal to the stored text. */
export function normalise(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
