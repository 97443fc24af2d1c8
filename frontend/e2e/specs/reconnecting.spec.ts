// Honest status while the connection is down: a server that goes away mid-answer (every
// connection to it fails) shows "Reconnecting…" while the page keeps trying with growing waits;
// when it answers again the stream resumes after the last event it saw and the answer
// completes, nothing missing or doubled. A server that crashes (SIGKILL) and starts again on the
// same database: "Reconnecting…", then the answer ends honestly (Continue or Retry, no cursor
// left blinking) and can be finished.

import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { Page } from '@playwright/test';

import { axeViolations } from '../support/axe';
import { expect, test } from '../support/fixtures';
import { TEMPLATE_DB } from '../support/paths';
import { CuttableProxy } from '../support/proxy';
import { snap } from '../support/screenshots';
import { ChatStreamServer } from '../support/server';
import { COUNTED_WORDS, SERVERS } from '../support/servers';
import {
  lastAssistant,
  normalise,
  send,
  shownText,
  signIn,
  userTexts,
  waitForAnswer,
} from '../support/ui';

function answerStatus(page: Page) {
  return page.getByTestId('answer-status');
}

/** What the status line's live region says (what a screen reader hears, once per change). */
function spokenStatus(page: Page) {
  return page.getByTestId('answer-status-live');
}

// 120 numbered words over ~10 s: a word missing or doubled would show.
test.use(SERVERS.durable);

// 120 numbered words over ~10 s: a word missing or doubled would show.

test('shows Reconnecting…, then resumes and completes when the server is back', async ({
  page,
  account,
  api,
  testServer,
}, testInfo) => {
  const proxy = await CuttableProxy.start(testServer.url);
  try {
    await signIn(page, account);
    await signIn(page, account, /\/chat$/, proxy.url);

    await send(page, 'Count for me, please.');
    const answer = lastAssistant(page);
    await expect(answer).toContainText('w10');
    const before = normalise(await shownText(answer));

    expect(proxy.serverGone()).toBe(1);
    await expect(answerStatus(page)).toHaveText('Reconnecting…');
    await expect(spokenStatus(page)).toHaveText('Reconnecting…');
    expect(await axeViolations(page)).toEqual([]);
    await snap(page, testInfo, 'reconnecting');
    // Still reconnecting a few seconds on: no error, the text so far kept.
    await page.waitForTimeout(3_500);
    await expect(answerStatus(page)).toHaveText('Reconnecting…');
    await expect(answer.getByRole('alert')).toHaveCount(0);
    expect(proxy.dropped).toBeGreaterThan(0); // the page kept trying

    proxy.serverBack();
    await waitForAnswer(page, 30_000);
    await expect(answerStatus(page)).toHaveCount(0);
    await expect(answer.getByRole('alert')).toHaveCount(0);
    const shown = normalise(await shownText(answer));
    expect(shown.startsWith(before)).toBe(true);
    expect(shown).toBe(COUNTED_WORDS);
    // The stream was picked up after the last event seen, not asked again from the start.
    const resumed = proxy.streamRequests.slice(1);
    expect(resumed.length).toBeGreaterThan(0);
    for (const request of resumed) {
      const lastEventId =
        request.lastEventId ?? new URL(request.path, proxy.url).searchParams.get('last_event_id');
      expect(lastEventId).toMatch(/^[0-9a-f-]{36}:\d+$/);
    }

    const stored = await api.latestChatMessages();
    expect(stored.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    expect(stored[1]?.content).toBe(COUNTED_WORDS);
    await expect(userTexts(page)).toHaveText(['Count for me, please.']);
  } finally {
    await proxy.stop();
  }
});

test('a server that crashes mid-answer and starts again: Reconnecting…, then the answer ends honestly and can be finished', async ({
  page,
  account,
}, testInfo) => {
  // Two server start-ups, the page's reconnect back-off and two answers' worth of words: on a
  // busy machine that takes more than the default minute.
  test.slow();
  // Our own server on our own copy of the database, so it can crash and start again on it.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'chatstream-e2e-crash-'));
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(TEMPLATE_DB + suffix)) {
      copyFileSync(TEMPLATE_DB + suffix, path.join(dataDir, `chatstream.db${suffix}`));
    }
  }
  const env = SERVERS.durable.serverEnv;
  let server = await ChatStreamServer.start({ name: 'crash-before', env, dataDir });
  const proxy = await CuttableProxy.start(server.url);
  try {
    await signIn(page, account, /\/chat$/, proxy.url);

    await send(page, 'Count, even through a crash.');
    const answer = lastAssistant(page);
    await expect(answer).toContainText('w30');

    await server.kill(); // no goodbye: the stream just breaks, the generation dies with it
    await expect(answerStatus(page)).toHaveText('Reconnecting…');
    await expect(answer.getByRole('alert')).toHaveCount(0);

    server = await ChatStreamServer.start({ name: 'crash-after', env, dataDir });
    proxy.retarget(server.url);

    // Back: the page finds out by itself how the answer ended, never leaving a cursor
    // blinking: its text as the server kept it (words sent after the last checkpoint are gone
    // from the page too), to Continue, which writes the rest after exactly that text; or, when
    // the server took longer to come back than the page keeps trying, the connection lost,
    // with Retry.
    await expect(answer).toHaveAttribute('data-streaming', 'false', { timeout: 30_000 });
    await expect(answerStatus(page)).toHaveCount(0);
    const continueButton = answer.getByRole('button', { name: 'Continue' });
    const retryButton = answer.getByRole('button', { name: 'Retry' });
    await expect(continueButton.or(retryButton).first()).toBeVisible();
    const finish = (await continueButton.count()) > 0 ? continueButton : retryButton;
    expect(await axeViolations(page)).toEqual([]);
    await snap(page, testInfo, 'crash-after-restart');
    await finish.click();
    await waitForAnswer(page, 30_000);
    expect(normalise(await shownText(answer))).toBe(COUNTED_WORDS);
  } finally {
    await proxy.stop();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
