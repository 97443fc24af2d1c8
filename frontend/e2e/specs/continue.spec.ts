// Continue: an answer stopped part way is written on where it stopped, in the same message,
// to exactly the scripted model's whole answer (the model goes on with its script from the
// stored partial), and so it is stored; a reload during the continuation carries on in place,
// and a second tab follows it (at the hourly limit: rate-limit-watch.spec.ts). The answers are
// numbered words, so a word missing or doubled on screen is plain to see.

import type { Page } from '@playwright/test';

import type { Message } from '../../src/api/types';
import type { ApiClient } from '../support/api';
import { axeViolations } from '../support/axe';
import { expectGrowingStarts, sampleUntilDone, storedAnswer, wordsShown } from '../support/counted';
import { expect, test } from '../support/fixtures';
import { snap } from '../support/screenshots';
import { COUNTED_WORDS, SERVERS } from '../support/servers';
import {
  assistantMessages,
  lastAssistant,
  normalise,
  send,
  shownText,
  signIn,
  waitForAnswer,
} from '../support/ui';

test.use(SERVERS.durable);

/** The URLs of the page's requests whose path matches `path`, as they are made. */
function recordRequests(page: Page, path: RegExp): string[] {
  const urls: string[] = [];
  page.on('request', (request) => {
    if (path.test(new URL(request.url()).pathname)) urls.push(request.url());
  });
  return urls;
}

const CONTINUE_PATH = /\/api\/v1\/chat\/messages\/[^/]+\/continue$/;
const ATTACH_PATH = /\/api\/v1\/chat\/messages\/[^/]+\/stream$/;

function continueButton(page: Page) {
  return lastAssistant(page).getByRole('button', { name: 'Continue' });
}

/** Asks for the counted answer and stops it once `words` words are shown; returns it stored. */
async function stopPartWay(page: Page, api: ApiClient, words: number): Promise<Message> {
  await send(page, 'Count for me, slowly.');
  await expect.poll(() => wordsShown(page)).toBeGreaterThanOrEqual(words);
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'cancelled');
  const stopped = await storedAnswer(api);
  expect(stopped.status).toBe('cancelled');
  expect(normalise(stopped.content).length).toBeLessThan(COUNTED_WORDS.length);
  expect(normalise(await shownText(lastAssistant(page)))).toBe(normalise(stopped.content));
  return stopped;
}

/** The conversation as stored: one question, and its answer, whole and complete. */
async function expectStoredWhole(api: ApiClient, answerId: string): Promise<void> {
  const stored = await api.latestChatMessages();
  expect(stored.map((m) => [m.role, m.status])).toEqual([
    ['user', 'complete'],
    ['assistant', 'complete'],
  ]);
  expect(stored[1]).toMatchObject({ id: answerId, content: COUNTED_WORDS });
}

test('Stop part way, then Continue: the same message goes on to the whole answer, as stored', async ({
  page,
  account,
  api,
}, testInfo) => {
  await signIn(page, account);
  const continues = recordRequests(page, CONTINUE_PATH);
  const stopped = await stopPartWay(page, api, 15);
  await expect(lastAssistant(page)).toContainText('Stopped');
  await expect(continueButton(page)).toBeVisible();
  expect(await axeViolations(page)).toEqual([]);
  await snap(page, testInfo, 'chat-stopped-continue');

  const samples = sampleUntilDone(page, { untilStarted: true });
  await continueButton(page).click();
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'streaming');
  await expect(page.getByRole('button', { name: 'Stop' })).toBeVisible();
  await expect(continueButton(page)).toHaveCount(0);
  const answer = await waitForAnswer(page);

  // Every frame, from the stopped text on, showed the answer's first words: none missing,
  // none doubled, never shorter; and it grew on screen, not only appearing whole at the end.
  const frames = await samples;
  expect(normalise(frames[0]?.text ?? '')).toBe(normalise(stopped.content));
  expectGrowingStarts(frames);
  expect(new Set(frames.map((s) => s.text)).size).toBeGreaterThan(5);
  expect(normalise(await shownText(answer))).toBe(COUNTED_WORDS);
  await expectStoredWhole(api, stopped.id);
  await expect(assistantMessages(page)).toHaveCount(1);
  expect(continues).toHaveLength(1);
  expect(new URL(continues[0] ?? '').pathname).toContain(stopped.id);
});

test('a reload during the continuation goes on in place, followed, never continued twice', async ({
  page,
  account,
  api,
}) => {
  await signIn(page, account);
  const continues = recordRequests(page, CONTINUE_PATH);
  const attaches = recordRequests(page, ATTACH_PATH);
  const stopped = await stopPartWay(page, api, 10);
  const stoppedWords = normalise(stopped.content).split(' ').length;

  await continueButton(page).click();
  await expect.poll(() => wordsShown(page)).toBeGreaterThanOrEqual(stoppedWords + 10);
  expect((await storedAnswer(api)).status).toBe('streaming');
  await page.reload();
  const samples = await sampleUntilDone(page);

  const answer = await waitForAnswer(page);
  expectGrowingStarts(samples);
  expect(new Set(samples.map((s) => s.text)).size).toBeGreaterThan(5);
  expect(normalise(await shownText(answer))).toBe(COUNTED_WORDS);
  await expectStoredWhole(api, stopped.id);
  await expect(assistantMessages(page)).toHaveCount(1);
  // After the reload the page followed the answer by its id; it never asked to continue again.
  expect(continues).toHaveLength(1);
  expect(attaches.length).toBeGreaterThanOrEqual(1);
});

test('a second tab follows a continuation started in the first, to the same whole answer', async ({
  page,
  account,
  api,
}) => {
  await signIn(page, account);
  const stopped = await stopPartWay(page, api, 10);
  const second = await page.context().newPage(); // signed in too: the session is shared
  await second.goto(page.url());
  await expect(lastAssistant(second)).toHaveAttribute('data-status', 'cancelled');
  await expect(continueButton(second)).toBeVisible();

  const growing = sampleUntilDone(second, { untilStarted: true });
  await continueButton(page).click();
  // The second tab hears of it and follows it, without a reload; it cannot send meanwhile.
  await expect(lastAssistant(second)).toHaveAttribute('data-status', 'streaming');
  await expect(second.getByRole('button', { name: 'Stop' })).toBeVisible();
  await expect(continueButton(second)).toHaveCount(0);
  for (const tab of [page, second]) {
    const answer = await waitForAnswer(tab);
    expect(normalise(await shownText(answer))).toBe(COUNTED_WORDS);
    await expect(assistantMessages(tab)).toHaveCount(1);
  }
  const frames = await growing;
  expectGrowingStarts(frames);
  expect(new Set(frames.map((s) => s.text)).size).toBeGreaterThan(5);
  await expectStoredWhole(api, stopped.id);
  await second.close();
});
