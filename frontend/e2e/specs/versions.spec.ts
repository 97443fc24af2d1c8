// Versions of the latest exchange: Regenerate a complete answer (the first stays, `< 1/2 >`
// flips between them, the chosen one is stored as chosen), a reload keeps both, and Edit &
// resend asks a changed question (Esc cancels, Enter sends) while the earlier question and its
// answers stay a version. Axe-clean; screenshots phone and desktop, light and dark.

import type { Locator, Page, TestInfo } from '@playwright/test';

import type { Message } from '../../src/api/types';
import type { ApiClient } from '../support/api';
import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import { snap } from '../support/screenshots';
import { SERVERS } from '../support/servers';
import { lastAssistant, send, signIn, userMessages, userTexts, waitForAnswer } from '../support/ui';

test.use(SERVERS.default);

const QUESTION = 'How do answers reach my browser?';
const EDITED = 'How do answers reach my phone?';

function position(message: Locator): Locator {
  return message.getByTestId('version-position');
}

/** The stored exchange (question, answer) of the newest chat. */
async function storedExchange(api: ApiClient): Promise<[Message, Message]> {
  const stored = await api.latestChatMessages();
  const [question, answer] = stored.slice(-2);
  if (question === undefined || answer === undefined) throw new Error('no exchange stored');
  return [question, answer];
}

async function snapBothThemes(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    expect(await axeViolations(page)).toEqual([]);
    await snap(page, testInfo, `${name}-${scheme}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

test('Regenerate a complete answer, flip between the versions, reload keeps both', async ({
  page,
  account,
  api,
}, testInfo) => {
  await signIn(page, account);
  await send(page, QUESTION);
  await waitForAnswer(page);
  const [, first] = await storedExchange(api);

  await lastAssistant(page).getByRole('button', { name: 'Regenerate' }).click();
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'streaming');
  await expect(lastAssistant(page).getByRole('button', { name: 'Regenerate' })).toHaveCount(0);
  await waitForAnswer(page);
  await expect(position(lastAssistant(page))).toHaveText('2/2');
  const [, second] = await storedExchange(api);
  expect(second.id).not.toBe(first.id);
  expect(second.version_ids).toEqual([first.id, second.id]);
  await snapBothThemes(page, testInfo, 'versions-regenerated');

  // Back to the first answer, by keyboard: it is what the conversation now holds.
  const previous = lastAssistant(page).getByRole('button', {
    name: 'Previous version of this answer',
  });
  await previous.focus();
  await page.keyboard.press('Enter');
  await expect(position(lastAssistant(page))).toHaveText('1/2');
  await expect.poll(async () => (await storedExchange(api))[1].id).toBe(first.id);

  await page.reload();
  await expect(position(lastAssistant(page))).toHaveText('1/2');
  await lastAssistant(page).getByRole('button', { name: 'Next version of this answer' }).click();
  await expect(position(lastAssistant(page))).toHaveText('2/2');
  await expect.poll(async () => (await storedExchange(api))[1].id).toBe(second.id);
});

test('Edit & resend: Esc cancels, Enter sends the new question; the earlier one stays a version', async ({
  page,
  account,
  api,
}, testInfo) => {
  await signIn(page, account);
  await send(page, QUESTION);
  await waitForAnswer(page);
  const [original, originalAnswer] = await storedExchange(api);
  const question = userMessages(page).last();

  await question.getByRole('button', { name: 'Edit message' }).click();
  const box = page.getByRole('textbox', { name: 'Edit your message' });
  await expect(box).toBeFocused();
  await expect(box).toHaveValue(QUESTION);
  await box.fill('Something else entirely');
  await snapBothThemes(page, testInfo, 'versions-editing');
  await box.press('Escape');
  await expect(box).toHaveCount(0);
  await expect(userTexts(page)).toHaveText([QUESTION]);
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'complete');

  await question.getByRole('button', { name: 'Edit message' }).click();
  await box.fill(EDITED);
  await box.press('Enter');
  await expect(userTexts(page)).toHaveText([EDITED]);
  await waitForAnswer(page);
  await expect(position(userMessages(page).last())).toHaveText('2/2');
  const [edited, editedAnswer] = await storedExchange(api);
  expect(edited).toMatchObject({ content: EDITED, version_ids: [original.id, edited.id] });
  expect(editedAnswer.id).not.toBe(originalAnswer.id);
  await snapBothThemes(page, testInfo, 'versions-edited');

  // The first question comes back with its own answer.
  await userMessages(page)
    .last()
    .getByRole('button', { name: 'Previous version of this message' })
    .click();
  await expect(userTexts(page)).toHaveText([QUESTION]);
  await expect(position(userMessages(page).last())).toHaveText('1/2');
  await expect
    .poll(async () => (await storedExchange(api)).map((m) => m.id))
    .toEqual([original.id, originalAnswer.id]);
  await page.reload();
  await expect(userTexts(page)).toHaveText([QUESTION]);
  await expect(position(userMessages(page).last())).toHaveText('1/2');
});
