// Flow 5: the model fails mid-answer. The error shows with Retry; Retry asks the server for a
// new answer to the same stored question (regenerate), so the question is never stored twice.

import { expect, test } from '../support/fixtures';
import { snap } from '../support/screenshots';
import { PROSE, SERVERS } from '../support/servers';
import {
  lastAssistant,
  messages,
  normalise,
  send,
  shownText,
  signIn,
  userTexts,
  waitForAnswer,
} from '../support/ui';

// The first two answers on this server fail after 8 chunks; later ones succeed.
test.use(SERVERS.failing);

test('a failed answer shows its error with Retry; Retry brings a full answer and no duplicate question', async ({
  page,
  account,
  api,
}, testInfo) => {
  const question = 'Why is the sky blue?';
  await signIn(page, account);
  const sends: { client_message_id: string; regenerate?: boolean }[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().endsWith('/api/v1/chat/turns')) {
      sends.push(request.postDataJSON() as (typeof sends)[number]);
    }
  });

  await send(page, question);
  const answer = lastAssistant(page);
  const alert = answer.getByRole('alert');
  // One wording per outcome: the same words live as after a reload (below).
  const failed = 'The assistant ran into a problem and could not finish this answer.';
  await expect(alert).toHaveText(new RegExp(`^${failed}`));
  await expect(answer).toHaveAttribute('data-status', 'error');
  // What was written before the failure stays visible above the error.
  expect(normalise(await shownText(answer))).toBe(
    normalise(
      PROSE.split(/(?<=\s)/)
        .slice(0, 8)
        .join(''),
    ),
  );
  const retry = answer.getByRole('button', { name: 'Retry' });
  await expect(retry).toBeVisible();
  await snap(page, testInfo, 'chat-error-retry');

  // After a reload the failed answer comes back from the history, still with Retry.
  await page.reload();
  await expect(lastAssistant(page).getByRole('alert')).toContainText(failed);
  await lastAssistant(page).getByRole('button', { name: 'Retry' }).click();
  // That retry fails too (the server fails twice): the error is back, with Retry.
  await expect(lastAssistant(page).getByRole('alert')).toContainText(failed);
  await expect(messages(page)).toHaveCount(2);
  await lastAssistant(page).getByRole('button', { name: 'Retry' }).click();

  await waitForAnswer(page);
  await expect(lastAssistant(page).getByRole('alert')).toHaveCount(0);
  expect(normalise(await shownText(lastAssistant(page)))).toBe(normalise(PROSE));
  await expect(userTexts(page)).toHaveText([question]);
  await expect(messages(page)).toHaveCount(2);

  // Every attempt repeated the same send, marked as a retry after the first.
  const ids = sends.map((body) => body.client_message_id);
  expect(ids).toHaveLength(3);
  expect(new Set(ids).size).toBe(1);
  expect(sends.map((body) => body.regenerate ?? null)).toEqual([null, true, true]);

  // The server holds one question and one (complete) answer; a reload shows the same.
  const stored = await api.latestChatMessages();
  expect(stored.map((m) => [m.role, m.status, m.role === 'user' ? m.content : ''])).toEqual([
    ['user', 'complete', question],
    ['assistant', 'complete', ''],
  ]);
  expect(stored[1]?.content).toBe(PROSE);
  await page.reload();
  await expect(messages(page)).toHaveCount(2);
  await expect(userTexts(page)).toHaveText([question]);
});
