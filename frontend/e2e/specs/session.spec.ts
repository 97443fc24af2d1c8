// Sessions that last: the server's access tokens live 3 seconds here, and the user never
// notices. Each expired token is refreshed through the HttpOnly refresh cookie and the request
// replayed; a reload keeps the session; sign out ends it on the server; and a refresh cookie
// used a second time (stolen, then used by the thief) ends the whole sign-in, the user's
// side of it too, with their draft waiting for them after signing in again.

import type { BrowserContext, Response } from '@playwright/test';

import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import type { Page } from '../support/fixtures';
import { snap } from '../support/screenshots';
import { recordToken } from '../support/tokens';
import { composer, send, signIn, userTexts, waitForAnswer } from '../support/ui';

const ACCESS_TOKEN_S = 3;
const REUSE_GRACE_S = 1;

test.use({
  serverName: 'session',
  serverEnv: {
    SCRIPTED_TEXT: 'A short answer, written quickly.',
    SCRIPTED_CHUNK_DELAY_S: '0.02',
    ACCESS_TOKEN_EXPIRE_MINUTES: String(ACCESS_TOKEN_S / 60),
    REFRESH_TOKEN_REUSE_GRACE_S: String(REUSE_GRACE_S),
  },
});

const COOKIE = 'chatstream_refresh';

async function refreshCookie(context: BrowserContext) {
  const cookie = (await context.cookies()).find((c) => c.name === COOKIE);
  if (cookie !== undefined) recordToken(cookie.value);
  return cookie;
}

/** The status of every answer to POST /auth/refresh from now on. */
function watchRefreshes(page: Page): number[] {
  const statuses: number[] = [];
  page.on('response', (response: Response) => {
    if (new URL(response.url()).pathname === '/api/v1/auth/refresh') {
      statuses.push(response.status());
    }
  });
  return statuses;
}

async function outliveTheAccessToken(page: Page): Promise<void> {
  await page.waitForTimeout(ACCESS_TOKEN_S * 1000 + 500);
}

test('the user keeps chatting past the access token’s expiry, a reload keeps them signed in, sign out ends it', async ({
  page,
  account,
}, testInfo) => {
  await signIn(page, account); // (the sign-in page's own refresh, with no cookie yet, is a 401)
  const refreshes = watchRefreshes(page);

  const cookie = await refreshCookie(page.context());
  expect(cookie, 'sign-in sets the refresh cookie').toBeDefined();
  expect(cookie).toMatchObject({
    httpOnly: true,
    secure: true, // kept over plain http: Chromium counts 127.0.0.1 as a secure origin
    sameSite: 'Strict',
    path: '/api/v1/auth',
  });
  expect(await page.evaluate(() => document.cookie)).not.toContain(COOKIE);

  await send(page, 'The first question.');
  await waitForAnswer(page);
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  const conversationUrl = page.url();

  // Three expiries in a row, each followed by a message: every one is answered.
  for (const n of [2, 3, 4]) {
    await outliveTheAccessToken(page);
    await send(page, `Question number ${n}.`);
    await waitForAnswer(page);
  }
  await expect(userTexts(page)).toHaveText([
    'The first question.',
    'Question number 2.',
    'Question number 3.',
    'Question number 4.',
  ]);
  expect(page.url()).toBe(conversationUrl);
  expect(refreshes.length).toBeGreaterThanOrEqual(3);
  expect(refreshes.every((status) => status === 200)).toBe(true);
  const rotated = await refreshCookie(page.context());
  expect(rotated?.value).not.toBe(cookie?.value);

  // A reload long after the access token expired, and one with no access token stored at all:
  // the refresh cookie brings the session back both times.
  await outliveTheAccessToken(page);
  await page.reload();
  await expect(userTexts(page)).toHaveCount(4);
  await expect(composer(page)).toBeVisible();
  await page.evaluate(() => {
    window.localStorage.removeItem('chatstream.session');
  });
  await page.reload();
  await expect(userTexts(page)).toHaveCount(4);
  expect(page.url()).toBe(conversationUrl);
  expect(await axeViolations(page)).toEqual([]);
  await snap(page, testInfo, 'session-after-reload');

  // Sign out: the server revokes the sign-in and the cookie is cleared, so nothing brings the
  // session back, not a reload, not the old cookie.
  const revoked = await refreshCookie(page.context());
  const logout = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/auth/logout');
  await page.getByRole('button', { name: 'Sign out' }).click();
  expect((await logout).status()).toBe(204);
  await expect(page).toHaveURL(/\/login$/);
  expect(await refreshCookie(page.context())).toBeUndefined();
  await page.goto(conversationUrl);
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();

  const replayed = await page.request.post('/api/v1/auth/refresh', {
    headers: { Cookie: `${COOKIE}=${revoked?.value ?? ''}`, 'X-Requested-With': 'test' },
  });
  expect(replayed.status()).toBe(401);
  expect(await replayed.json()).toMatchObject({ error: { code: 'refresh_token_invalid' } });
});

test('a stolen refresh cookie, used after the user’s own refresh, ends the session for both', async ({
  page,
  account,
  playwright,
  baseURL,
}, testInfo) => {
  await signIn(page, account);
  const stolen = await refreshCookie(page.context());
  expect(stolen).toBeDefined();

  // The user goes on chatting: their browser refreshes, spending the stolen token.
  await send(page, 'Before the theft.');
  await waitForAnswer(page);
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  const conversationUrl = page.url();
  await outliveTheAccessToken(page);
  await send(page, 'Still chatting.');
  await waitForAnswer(page);
  const users = await refreshCookie(page.context());
  expect(users?.value).not.toBe(stolen?.value);
  await page.waitForTimeout(REUSE_GRACE_S * 1000 + 500);

  // The thief, in a browser of their own, presents the stolen cookie: reuse.
  const thief = await playwright.request.newContext({ baseURL });
  const theft = await thief.post('/api/v1/auth/refresh', {
    headers: { Cookie: `${COOKIE}=${stolen?.value ?? ''}`, 'X-Requested-With': 'thief' },
  });
  expect(theft.status()).toBe(401);
  expect(await theft.json()).toMatchObject({ error: { code: 'refresh_token_reused' } });
  await thief.dispose();

  // The user's next refresh is refused too (the whole family is revoked): their message waits
  // as a draft while they sign in again, and comes back with the conversation.
  await outliveTheAccessToken(page);
  await composer(page).fill('Typed after the theft');
  await composer(page).press('Enter');
  await expect(page).toHaveURL(/\/login$/);
  await expect(
    page.getByRole('status').filter({ hasText: 'Your session has ended' }),
  ).toBeVisible();
  expect(await axeViolations(page)).toEqual([]);
  await snap(page, testInfo, 'session-ended-by-reuse');

  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(conversationUrl);
  await expect(composer(page)).toHaveValue('Typed after the theft');
  await expect(userTexts(page)).toHaveText(['Before the theft.', 'Still chatting.']);
});

test('two tabs whose access token expired refresh together and both stay signed in', async ({
  page,
  account,
}) => {
  await signIn(page, account);
  await send(page, 'One conversation, two tabs.');
  await waitForAnswer(page);
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  const second = await page.context().newPage();
  await second.goto(page.url());
  await expect(userTexts(second)).toHaveCount(1);

  await outliveTheAccessToken(page);
  // Both tabs reload at once: two refreshes with the same cookie, taken in turn.
  await Promise.all([page.reload(), second.reload()]);
  for (const tab of [page, second]) {
    await expect(userTexts(tab)).toHaveText(['One conversation, two tabs.']);
    await expect(tab).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  }
  await outliveTheAccessToken(page);
  await send(second, 'From the second tab.');
  await waitForAnswer(second);
  await send(page, 'And from the first.');
  await waitForAnswer(page);
  for (const tab of [page, second]) await expect(tab).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  await second.close();
});
