// A second tab of the same browser cannot send into a conversation whose answer another tab is
// writing, against the real server: it shows that answer live, says why its Send waits, keeps
// what was typed, and sends once the answer has ended. axe: nothing, light or dark.

import { axeViolations } from '../support/axe';
import { wordsShown } from '../support/counted';
import { expect, test } from '../support/fixtures';
import { snap, VIEWPORTS } from '../support/screenshots';
import { SERVERS } from '../support/servers';
import { composer, lastAssistant, send, signIn, userTexts, waitForAnswer } from '../support/ui';

test.use(SERVERS.durableSlow);

const HELD = /An answer is still being written in another tab/;

test("a second tab's Send waits, saying why, while the first tab's answer is written, and sends after", async ({
  page,
  account,
}, testInfo) => {
  test.setTimeout(120_000);
  await signIn(page, account);
  // A conversation to share: its first answer stopped at once.
  await send(page, 'First question.');
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'cancelled');

  const second = await page.context().newPage(); // signed in too: the session is shared
  await second.goto(page.url());
  await expect(userTexts(second)).toHaveText(['First question.']);
  await composer(second).fill('Me too?');
  await expect(second.getByRole('button', { name: 'Send' })).toHaveAttribute(
    'aria-disabled',
    'false',
  );

  await send(page, 'Second question.');
  // The second tab shows the answer live, and holds its own send with the reason by the box.
  await expect(userTexts(second)).toHaveText(['First question.', 'Second question.']);
  await expect(lastAssistant(second)).toHaveAttribute('data-status', 'streaming');
  await expect.poll(() => wordsShown(second)).toBeGreaterThanOrEqual(3);
  const reason = second.getByRole('form', { name: 'Send a message' }).getByRole('status');
  await expect(reason).toHaveText(HELD);
  await expect(reason).toBeVisible();
  await expect(composer(second)).toHaveAccessibleDescription(HELD);
  await expect(second.getByRole('button', { name: 'Send' })).toHaveCount(0);
  await composer(second).press('Enter');
  await expect(userTexts(second)).toHaveText(['First question.', 'Second question.']);
  await expect(composer(second)).toHaveValue('Me too?');
  // The tab that sent says nothing of the kind.
  await expect(page.getByText(HELD)).toHaveCount(0);

  for (const scheme of ['light', 'dark'] as const) {
    await second.emulateMedia({ colorScheme: scheme });
    for (const size of Object.values(VIEWPORTS)) {
      await second.setViewportSize(size);
      expect(await axeViolations(second), `${scheme}, ${size.width}px`).toEqual([]);
    }
    await snap(second, testInfo, `second-tab-held-${scheme}`);
  }
  await second.emulateMedia({ colorScheme: 'light' });
  await second.setViewportSize(VIEWPORTS.wide);

  // The answer ends in the first tab: the second may send again, its text still there.
  await waitForAnswer(page, 40_000);
  await waitForAnswer(second, 10_000);
  await expect(second.getByText(HELD)).toHaveCount(0);
  const sendButton = second.getByRole('button', { name: 'Send' });
  await expect(sendButton).toHaveAttribute('aria-disabled', 'false');
  await expect(composer(second)).toHaveValue('Me too?');
  await sendButton.click();
  await expect(userTexts(second)).toHaveText(['First question.', 'Second question.', 'Me too?']);
  // And now the first tab is the one that waits.
  await expect(page.getByRole('form', { name: 'Send a message' }).getByRole('status')).toHaveText(
    HELD,
  );
  await second.getByRole('button', { name: 'Stop' }).click();
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'cancelled');
  await expect(page.getByText(HELD)).toHaveCount(0);
  await second.close();
});
