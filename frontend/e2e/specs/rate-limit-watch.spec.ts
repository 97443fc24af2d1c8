// At the hourly message limit: the page still follows the answer it spent the limit on (after
// a reload it asks for a stream token to watch, which no limit refuses), while a Continue,
// itself a message, is refused with when to try again, the stopped answer left as it was.

import { storedAnswer, wordsShown } from '../support/counted';
import { expect, test } from '../support/fixtures';
import { SERVERS } from '../support/servers';
import { lastAssistant, normalise, send, shownText, signIn } from '../support/ui';

test.use(SERVERS.durableAtLimit);

test('a reload still follows the answer; Continue, a message, is refused with when to try again', async ({
  page,
  account,
  api,
}) => {
  await signIn(page, account);
  await send(page, 'My one message this hour.');
  await expect.poll(() => wordsShown(page)).toBeGreaterThanOrEqual(10);
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);

  // The limit is reached: following the answer after a reload must not be refused.
  const tokenPurposes: (string | null)[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.endsWith('/api/v1/chat/stream-token')) {
      tokenPurposes.push(url.searchParams.get('purpose'));
    }
  });
  await page.reload();
  await expect(lastAssistant(page)).toHaveAttribute('data-streaming', 'true');
  await expect.poll(() => wordsShown(page)).toBeGreaterThanOrEqual(20);
  expect(tokenPurposes).toEqual(['watch']);

  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'cancelled');
  const stopped = await storedAnswer(api);

  const continueButton = lastAssistant(page).getByRole('button', { name: 'Continue' });
  await continueButton.click();
  const alert = lastAssistant(page).getByRole('alert');
  await expect(alert).toContainText("You're sending messages too quickly.");
  await expect(alert).toContainText(/Try again in (59|60) minutes\./);
  expect(tokenPurposes).toEqual(['watch', null]); // a Continue asks for a plain (send) token
  // The answer is as it was, and Continue is still there for later.
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'cancelled');
  expect(normalise(await shownText(lastAssistant(page)))).toBe(normalise(stopped.content));
  await expect(continueButton).toBeVisible();
  expect(await storedAnswer(api)).toMatchObject({ status: 'cancelled', content: stopped.content });
});
