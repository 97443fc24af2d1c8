// Answers queued for a model that writes one at a time: while one slow answer is written, two
// other users' answers wait in line and each page says where its answer stands ("Waiting for
// the model, 1 ahead", "…you're next"), announced politely, then shows the answer as it streams.

import type { Browser, Page } from '@playwright/test';

import type { Account } from '../support/api';
import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import { snap } from '../support/screenshots';
import { COUNTED_WORDS } from '../support/servers';
import { lastAssistant, send, shownText, signIn, waitForAnswer, normalise } from '../support/ui';

// The scripted model, one answer at a time (as the local model), each ~12 s long.
test.use({
  serverName: 'queued',
  serverEnv: {
    SCRIPTED_TEXT: COUNTED_WORDS,
    SCRIPTED_CHUNK_DELAY_S: '0.1',
    SCRIPTED_ONE_AT_A_TIME: 'true',
    // The last in line waits for two whole answers: that is waiting, not a stalled model.
    STREAM_IDLE_TIMEOUT_S: '120',
  },
});

function answerStatus(page: Page) {
  return page.getByTestId('answer-status');
}

function spokenStatus(page: Page) {
  return page.getByTestId('answer-status-live');
}

/** Another user, signed in in a browser context of their own. */
async function otherUser(browser: Browser, account: Account): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, account);
  return page;
}

test('two answers queued behind a slow one each hear their place, then stream', async ({
  page,
  browser,
  account,
  testServer,
}, testInfo) => {
  test.setTimeout(180_000);
  const second = await otherUser(browser, testServer.claimUser());
  const third = await otherUser(browser, testServer.claimUser());
  await signIn(page, account);

  await send(page, 'You go first.');
  await expect(lastAssistant(page)).toContainText('w1', { timeout: 20_000 });
  await expect(answerStatus(page)).toHaveCount(0); // nobody ahead: never queued

  await send(second, 'Me next.');
  await expect(answerStatus(second)).toHaveText("Waiting for the model, you're next");
  await expect(answerStatus(second)).toHaveAttribute('data-state', 'queued');
  await send(third, 'And me.');
  await expect(answerStatus(third)).toHaveText('Waiting for the model, 1 ahead');
  await expect(spokenStatus(third)).toHaveText('Waiting for the model, 1 ahead');
  await expect(spokenStatus(third)).toHaveAttribute('aria-live', 'polite');
  expect(await axeViolations(third)).toEqual([]);
  for (const scheme of ['light', 'dark'] as const) {
    await third.emulateMedia({ colorScheme: scheme });
    await snap(third, testInfo, `queued-${scheme}`);
  }
  await third.emulateMedia({ colorScheme: 'light' });

  // The first answer done, the second is written and the third moves up.
  await waitForAnswer(page, 60_000);
  await expect(lastAssistant(second)).toContainText('w1', { timeout: 20_000 });
  await expect(answerStatus(second)).toHaveCount(0);
  await expect(answerStatus(third)).toHaveText("Waiting for the model, you're next");
  await expect(spokenStatus(third)).toHaveText("Waiting for the model, you're next");

  // Then the third's own answer, whole, and no status left under it.
  await waitForAnswer(second, 60_000);
  const answer = await waitForAnswer(third, 60_000);
  await expect(answerStatus(third)).toHaveCount(0);
  expect(normalise(await shownText(answer))).toBe(normalise(COUNTED_WORDS));
  expect(await axeViolations(third)).toEqual([]);
  await second.context().close();
  await third.context().close();
});
