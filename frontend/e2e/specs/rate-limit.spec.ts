// Flow 9: the hourly message limit is reached; the person reads a clear message saying when
// to try again, and what they wrote stays in the box (nothing was stored), still there after a
// reload.

import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import { snap } from '../support/screenshots';
import { SERVERS } from '../support/servers';
import { assistantMessages, composer, send, signIn, userTexts, waitForAnswer } from '../support/ui';

test.use(SERVERS.rateLimited);

test('over the rate limit, the user reads what happened and when to try again', async ({
  page,
  account,
}, testInfo) => {
  await signIn(page, account);
  await send(page, 'My one message this hour.');
  await waitForAnswer(page);

  await send(page, 'And one more?');
  const alert = page.getByRole('form', { name: 'Send a message' }).getByRole('alert');
  await expect(alert).toContainText("You're sending messages too quickly.");
  // One message an hour: the next is allowed in about an hour.
  await expect(alert).toContainText(/Try again in (59|60) minutes\./);
  // The refused message is not shown as sent, and no Retry waits to fail again: its text is
  // back in the box, to send when the limit allows.
  await expect(composer(page)).toHaveValue('And one more?');
  await expect(composer(page)).toHaveAccessibleDescription(/too quickly/);
  await expect(userTexts(page)).toHaveText(['My one message this hour.']);
  await expect(assistantMessages(page)).toHaveCount(1);
  await expect(page.getByRole('button', { name: 'Retry' })).toHaveCount(0);
  expect(await axeViolations(page)).toEqual([]);
  await snap(page, testInfo, 'rate-limited-draft');
  await testInfo.attach('rate-limit-message', {
    body: await alert.innerText(),
    contentType: 'text/plain',
  });
  // The page stays usable: the box is enabled and focused, ready for later.
  await expect(composer(page)).toBeEnabled();
  await expect(composer(page)).toBeFocused();

  // The text is a draft of this conversation: a reload keeps it.
  await page.reload();
  await expect(composer(page)).toHaveValue('And one more?');
  await expect(userTexts(page)).toHaveText(['My one message this hour.']);
});
