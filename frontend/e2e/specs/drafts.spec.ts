// Drafts survive: what is typed outlives a reload (one draft per conversation, and one for a new
// chat), belongs to one account on a shared browser, and waits through a sign-in when the
// session ends: the user comes back to the same conversation with the draft in the box.

import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import { snap } from '../support/screenshots';
import { SERVERS } from '../support/servers';
import { composer, send, signIn, userTexts, waitForAnswer } from '../support/ui';

test.use(SERVERS.default);

test('a draft survives a reload, one per conversation and one for a new chat; never seen by another account', async ({
  page,
  account,
  testServer,
}) => {
  await signIn(page, account);
  await send(page, 'Start a conversation.');
  await waitForAnswer(page);
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  const conversationUrl = page.url();

  await composer(page).fill('A follow-up, half written');
  await page.reload();
  await expect(composer(page)).toHaveValue('A follow-up, half written');
  await expect(userTexts(page)).toHaveText(['Start a conversation.']);

  await page.getByRole('button', { name: /new chat/i }).click();
  await expect(page).toHaveURL(/\/chat$/);
  await expect(composer(page)).toHaveValue('');
  await composer(page).fill('Something new');
  await page.reload();
  await expect(composer(page)).toHaveValue('Something new');

  await page.goto(conversationUrl);
  await expect(composer(page)).toHaveValue('A follow-up, half written');

  // Sent: the draft is gone, after a reload too.
  await composer(page).press('Enter');
  await waitForAnswer(page);
  await expect(composer(page)).toHaveValue('');
  await page.reload();
  await expect(userTexts(page)).toHaveText(['Start a conversation.', 'A follow-up, half written']);
  await expect(composer(page)).toHaveValue('');

  // Another account signs in on the same browser (the first one's session simply ended: its
  // access token and its refresh cookie are gone): it sees none of the first one's drafts.
  await page.evaluate(() => {
    window.localStorage.removeItem('chatstream.session');
  });
  await page.context().clearCookies();
  const other = testServer.claimUser();
  await signIn(page, other);
  await expect(page).toHaveURL(/\/chat$/);
  await expect(composer(page)).toHaveValue('');
});

test('an expired session sends the user to sign in, then back to the conversation with the draft', async ({
  page,
  account,
}, testInfo) => {
  await signIn(page, account);
  await send(page, 'Remember this conversation.');
  await waitForAnswer(page);
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  const conversationUrl = page.url();

  // The session is gone (the access token, and the refresh cookie that could renew it): the
  // next send cannot refresh, and is refused on the spot. (session.spec.ts ends a session the
  // way the server does, by a refresh token's reuse.)
  await composer(page).fill('Typed just as the session ended');
  await page.evaluate(() => {
    window.localStorage.removeItem('chatstream.session');
  });
  await page.context().clearCookies();
  await composer(page).press('Enter');

  await expect(page).toHaveURL(/\/login$/);
  await expect(
    page.getByRole('status').filter({ hasText: 'Your session has ended' }),
  ).toBeVisible();
  expect(await axeViolations(page)).toEqual([]);
  await snap(page, testInfo, 'session-ended');

  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();

  await expect(page).toHaveURL(conversationUrl);
  await expect(composer(page)).toHaveValue('Typed just as the session ended');
  await expect(userTexts(page)).toHaveText(['Remember this conversation.']);
  await snap(page, testInfo, 'draft-restored');
});
