// Honest status while waiting: a model slow to start shows "Still thinking… (N s)", announced
// once; the line goes when the first word comes. (A server gone away: reconnecting.spec.ts.)

import type { Page } from '@playwright/test';

import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import { snap } from '../support/screenshots';
import { SERVERS } from '../support/servers';
import { lastAssistant, send, signIn, waitForAnswer } from '../support/ui';

function answerStatus(page: Page) {
  return page.getByTestId('answer-status');
}

/** What the status line's live region says (what a screen reader hears, once per change). */
function spokenStatus(page: Page) {
  return page.getByTestId('answer-status-live');
}

test.use(SERVERS.slowFirstWord);

test('after a few silent seconds the answer says it is still thinking, counting the seconds', async ({
  page,
  account,
}, testInfo) => {
  await signIn(page, account);
  await send(page, 'Take your time.');
  await expect(lastAssistant(page).getByTestId('typing-indicator')).toBeVisible();
  await expect(answerStatus(page)).toHaveCount(0); // not in the first seconds
  await expect(answerStatus(page)).toHaveText(/^Still thinking… \(3 s\)$/, { timeout: 4_000 });
  await expect(spokenStatus(page)).toHaveText('Still thinking…');
  await expect(spokenStatus(page)).toHaveAttribute('aria-live', 'polite');
  expect(await axeViolations(page)).toEqual([]);
  await snap(page, testInfo, 'still-thinking');

  // The first word ends the wait; the answer then completes and the line is gone.
  await expect(lastAssistant(page)).toContainText('Thought', { timeout: 10_000 });
  await waitForAnswer(page);
  await expect(answerStatus(page)).toHaveCount(0);
  await expect(lastAssistant(page)).toHaveText(/Thought it through\./);
});
