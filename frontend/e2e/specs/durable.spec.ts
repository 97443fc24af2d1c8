// Answers that outlive the page: a reload mid-answer carries on in place, a second tab sees the
// answer grow, Stop in either tab stops it in both, leaving a conversation leaves its answer
// running, and a Stop pressed before the page knows the answer's id still stops it.
// The answers are numbered words, so a word missing or doubled on screen is plain to see.

import type { Page, Request, Route } from '@playwright/test';

import type { StartTurnRequest } from '../../src/api/types';
import { expectGrowingStarts, sampleUntilDone, storedAnswer, wordsShown } from '../support/counted';
import { expect, test } from '../support/fixtures';
import { COUNTED_WORDS, SERVERS } from '../support/servers';
import {
  composer,
  lastAssistant,
  normalise,
  send,
  shownText,
  signIn,
  userTexts,
  waitForAnswer,
} from '../support/ui';

test.use(SERVERS.durable);

/**
 * Requests that would start an answer: a send's POST /chat/turns, a non-streaming send, or the
 * stream URL that carries a message (which the page no longer uses).
 */
function recordSends(page: Page): string[] {
  const sends: string[] = [];
  page.on('request', (request: Request) => {
    const { pathname } = new URL(request.url());
    if (/\/chat\/(turns|stream|message)$/.test(pathname)) sends.push(request.url());
  });
  return sends;
}

/** A send's POST, as the page makes it. */
function isTurnPost(url: URL): boolean {
  return url.pathname.endsWith('/api/v1/chat/turns');
}

test('a reload mid-answer carries on in place: no word missing, none doubled, no second answer', async ({
  page,
  account,
  api,
}) => {
  await signIn(page, account);
  const sends = recordSends(page);
  await send(page, 'Count for me, slowly.');
  await expect.poll(() => wordsShown(page)).toBeGreaterThanOrEqual(15);
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  expect(sends).toHaveLength(1);

  const attaches: string[] = [];
  page.on('request', (request) => {
    if (/\/chat\/messages\/[^/]+\/stream$/.test(new URL(request.url()).pathname)) {
      attaches.push(request.url());
    }
  });
  await page.reload();
  const samples = await sampleUntilDone(page);

  const answer = await waitForAnswer(page);
  expectGrowingStarts(samples);
  // It went on growing on screen after the reload, not only appearing whole at the end.
  expect(new Set(samples.map((s) => s.text)).size).toBeGreaterThan(5);
  const stored = await storedAnswer(api);
  expect(stored).toMatchObject({ status: 'complete', content: COUNTED_WORDS });
  expect(normalise(await shownText(answer))).toBe(COUNTED_WORDS);
  // Followed by its id, never sent again: one question, one answer.
  expect(sends).toHaveLength(1);
  expect(attaches.length).toBeGreaterThanOrEqual(1);
  expect(new URL(attaches[0] ?? '').searchParams.has('message')).toBe(false);
  await expect(userTexts(page)).toHaveText(['Count for me, slowly.']);
  expect((await api.latestChatMessages()).map((m) => m.role)).toEqual(['user', 'assistant']);
});

test('a second tab sees the answer grow and cannot send meanwhile; Stop in it stops both tabs', async ({
  page,
  account,
  api,
}) => {
  await signIn(page, account);
  // A conversation to share: its first answer stopped at once.
  await send(page, 'First question.');
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(lastAssistant(page)).toHaveAttribute('data-status', 'cancelled');
  const conversationUrl = page.url();

  const second = await page.context().newPage(); // signed in too: the session is shared
  await second.goto(conversationUrl);
  await expect(userTexts(second)).toHaveText(['First question.']);

  await send(page, 'Second question.');
  // The second tab shows the question and the answer as it grows, without a reload.
  await expect(userTexts(second)).toHaveText(['First question.', 'Second question.']);
  await expect(lastAssistant(second)).toHaveAttribute('data-status', 'streaming');
  const growing = sampleUntilDone(second);
  await expect.poll(() => wordsShown(second)).toBeGreaterThanOrEqual(10);
  // Neither tab can send into the conversation while its answer is written.
  await expect(second.getByRole('button', { name: 'Stop' })).toBeVisible();
  await composer(second).fill('Me too?');
  await composer(second).press('Enter');
  await expect(userTexts(second)).toHaveText(['First question.', 'Second question.']);
  await expect(composer(second)).toHaveValue('Me too?');

  await second.getByRole('button', { name: 'Stop' }).click();
  for (const tab of [second, page]) {
    await expect(lastAssistant(tab)).toHaveAttribute('data-status', 'cancelled');
    await expect(lastAssistant(tab)).toContainText('Stopped');
    await expect(tab.getByRole('button', { name: 'Send' })).toBeVisible();
  }
  const samples = await growing;
  expectGrowingStarts(samples.slice(0, -1)); // the last sample is the stopped answer
  expect(new Set(samples.map((s) => s.text)).size).toBeGreaterThan(5);

  const stored = await storedAnswer(api);
  expect(stored.status).toBe('cancelled');
  expect(stored.content.length).toBeLessThan(COUNTED_WORDS.length);
  for (const tab of [second, page]) {
    expect(normalise(await shownText(lastAssistant(tab)))).toBe(normalise(stored.content));
    await expect(lastAssistant(tab).getByRole('alert')).toHaveCount(0);
  }
  // Nothing more arrives in either tab.
  await page.waitForTimeout(500);
  expect(normalise(await shownText(lastAssistant(page)))).toBe(normalise(stored.content));
  await second.close();
});

test('switching to New chat and back finds the answer still going or finished, never stopped', async ({
  page,
  account,
  api,
}) => {
  await signIn(page, account);
  await send(page, 'Count while I look elsewhere.');
  await expect.poll(() => wordsShown(page)).toBeGreaterThanOrEqual(5);
  await expect(page).toHaveURL(/\/chat\/[0-9a-f-]{36}$/);
  const conversationUrl = new URL(page.url()).pathname;

  await page.getByRole('button', { name: 'New chat' }).click();
  await expect(page).toHaveURL(/\/chat$/);
  // Away a while. (Not longer than STREAM_DISCONNECT_GRACE_S, 10 s: the server stops an answer
  // nobody has read for that long and stores it `interrupted`.)
  await page.waitForTimeout(3_000);
  const meanwhile = await storedAnswer(api);
  expect(['streaming', 'complete']).toContain(meanwhile.status);

  await page.locator(`a[href="${conversationUrl}"]`).click();
  const samples = await sampleUntilDone(page);
  const answer = await waitForAnswer(page);
  expectGrowingStarts(samples);
  expect(normalise(await shownText(answer))).toBe(COUNTED_WORDS);
  expect(await storedAnswer(api)).toMatchObject({ status: 'complete', content: COUNTED_WORDS });
});

/** Holds the send's POST in the browser until `release` is called. */
async function holdSends(page: Page): Promise<{ held: Promise<Route>; release: () => void }> {
  let release = (): void => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let hold = (_route: Route): void => undefined;
  const held = new Promise<Route>((resolve) => (hold = resolve));
  await page.route(isTurnPost, async (route) => {
    hold(route);
    await released;
    // The send reaches the server only now; the browser may have given up on it meanwhile.
    await route.continue().catch(() => undefined);
  });
  return { held, release };
}

test('Stop before the send reached the server (its answer not yet known) stops it by the send', async ({
  page,
  account,
  api,
}) => {
  await signIn(page, account);
  const { held, release } = await holdSends(page);
  const cancels: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.endsWith('/api/v1/chat/cancel')) {
      cancels.push(request.postData() ?? '');
    }
  });

  await send(page, 'Never mind.');
  const route = await held;
  const body = route.request().postDataJSON() as StartTurnRequest;
  const clientMessageId = body.client_message_id;
  await page.getByRole('button', { name: 'Stop' }).click();
  const answer = lastAssistant(page);
  await expect(answer).toHaveAttribute('data-status', 'cancelled');
  await expect(answer).toContainText('Stopped');
  expect(cancels.map((body) => JSON.parse(body) as unknown)).toEqual([
    { client_message_id: clientMessageId },
  ]);

  // The send arrives after the stop (it was on its way): the server must not answer it. (The
  // page let go of its POST once stopped; the same POST again stands for it arriving late.)
  release();
  const late = await api.startTurn(body);
  expect(late.user_message.client_message_id).toBe(clientMessageId);
  // Stored as asked, and stopped before a word was written: the question, an empty answer
  // `cancelled` (the reply may still say `streaming`: the remembered stop lands just after).
  await expect
    .poll(async () => (await api.latestChatMessages()).map((m) => [m.role, m.status, m.content]))
    .toEqual([
      ['user', 'complete', 'Never mind.'],
      ['assistant', 'cancelled', ''],
    ]);
  await expect(page.getByRole('button', { name: 'Send' })).toBeVisible();
});

test("Stop while the send is on the server but its reply (the answer's id) has not reached the page stops it too", async ({
  page,
  account,
  api,
}) => {
  await signIn(page, account);
  // The server gets the send at once; the page gets nothing of its reply until after Stop.
  let release = (): void => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let sent = (): void => undefined;
  const reachedServer = new Promise<void>((resolve) => (sent = resolve));
  const cancels: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.includes('/cancel')) cancels.push(request.url());
  });
  await page.route(isTurnPost, async (route) => {
    const response = route.fetch();
    sent();
    await released;
    await route.fulfill({ response: await response }).catch(() => undefined);
  });

  await send(page, 'Start counting.');
  await reachedServer;
  await expect
    .poll(async () => (await api.conversations()).items.length, { timeout: 5_000 })
    .toBe(1);
  await expect.poll(async () => (await api.latestChatMessages()).length).toBe(2);
  await page.waitForTimeout(1_000); // the model writes a few words meanwhile
  await page.getByRole('button', { name: 'Stop' }).click();
  const answer = lastAssistant(page);
  await expect(answer).toHaveAttribute('data-status', 'cancelled');
  expect(cancels.map((url) => new URL(url).pathname)).toEqual(['/api/v1/chat/cancel']);
  release();

  const stored = await storedAnswer(api);
  expect(stored.status).toBe('cancelled');
  expect(stored.content.length).toBeGreaterThan(0);
  expect(stored.content.length).toBeLessThan(COUNTED_WORDS.length);
  expect(normalise(await shownText(answer))).toBe(normalise(stored.content));
  // It stays stopped: nothing more is written on the server.
  await page.waitForTimeout(500);
  expect((await storedAnswer(api)).content).toBe(stored.content);
});

test("Stop once the send's reply told the answer's id, before its stream said `start`, stops it by its id", async ({
  page,
  account,
  api,
}) => {
  await signIn(page, account);
  // The answer's stream reaches the page only after Stop.
  let release = (): void => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let opened = (): void => undefined;
  const streamOpened = new Promise<void>((resolve) => (opened = resolve));
  const cancels: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.includes('/cancel')) cancels.push(request.url());
  });
  await page.route(
    (url) => /\/api\/v1\/chat\/messages\/[^/]+\/stream$/.test(url.pathname),
    async (route) => {
      opened();
      await released;
      await route.continue().catch(() => undefined);
    },
  );

  await send(page, 'Start counting.');
  await streamOpened;
  await page.waitForTimeout(1_000); // the model writes a few words meanwhile
  await page.getByRole('button', { name: 'Stop' }).click();
  const answer = lastAssistant(page);
  await expect(answer).toHaveAttribute('data-status', 'cancelled');
  release();

  const stored = await storedAnswer(api);
  expect(cancels.map((url) => new URL(url).pathname)).toEqual([
    `/api/v1/chat/messages/${stored.id}/cancel`,
  ]);
  expect(stored.status).toBe('cancelled');
  expect(stored.content.length).toBeGreaterThan(0);
  expect(normalise(await shownText(answer))).toBe(normalise(stored.content));
});
