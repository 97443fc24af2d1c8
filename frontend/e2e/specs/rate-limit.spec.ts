// Flow 9: the hourly message limit is reached; the person reads a clear message saying when
// to try again.

import { expect, test } from '../support/fixtures';
import { SERVERS } from '../support/servers';
import { composer, lastAssistant, send, signIn, userTexts, waitForAnswer } from '../support/ui';

test.use(SERVERS.rateLimited);

test('over the rate limit, the user reads what happened and when to try again', async ({
  page,
  account,
}, testInfo) => {
  await signIn(page, account);
  await send(page, 'My one message this hour.');
  await waitForAnswer(page);

  await send(page, 'And one more?');
  const alert = lastAssistant(page).getByRole('alert');
  await expect(alert).toContainText("You're sending messages too quickly.");
  // One message an hour: the next is allowed in about an hour.
  await expect(alert).toContainText(/Try again in (59|60) minutes\./);
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'error');
  await expect(userTexts(page)).toHaveText(['My one message this hour.', 'And one more?']);
  await testInfo.attach('rate-limit-message', {
    body: await alert.innerText(),
    contentType: 'text/plain',
  });
  // The page stays usable: the box is enabled and focused, ready for later.
  await expect(composer(page)).toBeEnabled();
  await expect(composer(page)).toBeFocused();
});
