// Flows 2–4: an answer streams into the page, Stop keeps what was written, and a reload brings
// the conversation back from the server in order.

import { expect, test } from '../support/fixtures';
import { snap } from '../support/screenshots';
import { PROSE, SERVERS } from '../support/servers';
import {
  assistantMessages,
  lastAssistant,
  messages,
  normalise,
  send,
  shownText,
  signIn,
  userTexts,
  waitForAnswer,
} from '../support/ui';

test.use(SERVERS.default);

interface Sample {
  length: number;
  cursor: boolean;
  status: string;
}

test('the answer streams in: text grows frame by frame behind a typing cursor, then matches what the server stored', async ({
  page,
  account,
  api,
}, testInfo) => {
  await signIn(page, account);
  await expect(page.getByRole('heading', { name: 'How can I help you today?' })).toBeVisible();

  // Sample the last answer on every animation frame, from before the send until it completes.
  const sampling = page.evaluate(
    () =>
      new Promise<Sample[]>((resolve) => {
        const samples: Sample[] = [];
        const tick = () => {
          const answers = document.querySelectorAll<HTMLElement>(
            '[data-testid="message"][data-role="assistant"]',
          );
          const last = answers[answers.length - 1];
          if (last !== undefined) {
            samples.push({
              length: last.querySelector('[data-testid="message-text"]')?.textContent.length ?? 0,
              cursor: last.querySelector('[data-testid="typing-indicator"]') !== null,
              status: last.dataset.status ?? '',
            });
            if (last.dataset.status === 'complete') {
              resolve(samples);
              return;
            }
          }
          requestAnimationFrame(tick);
        };
        tick();
      }),
  );
  await send(page, 'How does streaming work?');
  await expect(lastAssistant(page)).toContainText('EventSource');
  await snap(page, testInfo, 'chat-streaming');
  const samples = await sampling;

  const streaming = samples.filter((s) => s.status === 'streaming');
  const lengths = streaming.map((s) => s.length);
  // Many frames saw the text at different lengths, only ever growing.
  expect(new Set(lengths).size).toBeGreaterThanOrEqual(10);
  expect(lengths).toEqual([...lengths].sort((a, b) => a - b));
  // The cursor was there on every streaming frame, and is gone on the final one.
  expect(streaming.every((s) => s.cursor)).toBe(true);
  expect(samples.at(-1)).toMatchObject({ status: 'complete', cursor: false });

  const answer = await waitForAnswer(page);
  await expect(answer.getByTestId('typing-indicator')).toHaveCount(0);
  await expect(page.getByRole('log')).toHaveAttribute('aria-busy', 'false');
  const stored = await api.latestChatMessages();
  expect(stored.map((m) => [m.role, m.status])).toEqual([
    ['user', 'complete'],
    ['assistant', 'complete'],
  ]);
  expect(stored[1]?.content).toBe(PROSE);
  expect(normalise(await shownText(answer))).toBe(normalise(stored[1]?.content ?? ''));
  // The new conversation got its address and its place in the sidebar.
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('link', { name: 'How does streaming work?' })).toHaveAttribute(
    'aria-current',
    'page',
  );
  await snap(page, testInfo, 'chat-idle');
  await page.emulateMedia({ colorScheme: 'dark' });
  await snap(page, testInfo, 'chat-idle-dark');
});

test('Stop keeps the partial answer on screen and, after a reload, in the history', async ({
  page,
  account,
  api,
}) => {
  await signIn(page, account);
  await send(page, 'Tell me a long story.');
  const answer = lastAssistant(page);
  await expect(answer).toContainText('the answer the moment');
  await page.getByRole('button', { name: 'Stop' }).click();

  await expect(answer).toHaveAttribute('data-status', 'cancelled');
  await expect(answer).toContainText('Stopped');
  await expect(answer.getByTestId('typing-indicator')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Send' })).toBeVisible();
  const partial = normalise(await shownText(answer));
  expect(partial.length).toBeGreaterThan(0);
  expect(normalise(PROSE).startsWith(partial)).toBe(true);
  expect(partial.length).toBeLessThan(normalise(PROSE).length);
  // Nothing more arrives after Stop.
  await page.waitForTimeout(500);
  expect(normalise(await shownText(answer))).toBe(partial);

  // The server stopped too, and kept what had been written.
  await expect.poll(async () => (await api.latestChatMessages())[1]?.status).toBe('cancelled');
  const stored = normalise((await api.latestChatMessages())[1]?.content ?? '');
  expect(stored.startsWith(partial)).toBe(true);
  expect(stored.length).toBeLessThan(normalise(PROSE).length);

  await page.reload();
  const reloaded = lastAssistant(page);
  await expect(reloaded).toHaveAttribute('data-status', 'cancelled');
  await expect(reloaded).toContainText('Stopped');
  expect(normalise(await shownText(reloaded))).toBe(stored);
  await expect(userTexts(page)).toHaveText(['Tell me a long story.']);
});

test('a reload brings the whole conversation back from the server, in order', async ({
  page,
  account,
  api,
}) => {
  await signIn(page, account);
  const questions = ['First question?', 'Second question?', 'Third question?'];
  for (const question of questions) {
    await send(page, question);
    await waitForAnswer(page);
  }
  const before = await messages(page).evaluateAll((items) =>
    items.map((item) => [item.dataset.role, item.dataset.status, item.textContent]),
  );
  expect(before).toHaveLength(6);

  await page.reload();
  await expect(messages(page)).toHaveCount(6);
  const after = await messages(page).evaluateAll((items) =>
    items.map((item) => [item.dataset.role, item.dataset.status, item.textContent]),
  );
  expect(after).toEqual(before);
  await expect(userTexts(page)).toHaveText(questions);
  await expect(assistantMessages(page)).toHaveCount(3);

  const stored = await api.latestChatMessages();
  expect(stored.map((m) => m.role)).toEqual([
    'user',
    'assistant',
    'user',
    'assistant',
    'user',
    'assistant',
  ]);
  expect(stored.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(questions);
  for (const [index, item] of (await assistantMessages(page).all()).entries()) {
    expect(normalise(await shownText(item))).toBe(normalise(stored[index * 2 + 1]?.content ?? ''));
  }
  // Still the same conversation: the next answer goes on after the reloaded ones.
  await send(page, 'Fourth question?');
  await waitForAnswer(page);
  expect(await api.latestChatMessages()).toHaveLength(8);
});
