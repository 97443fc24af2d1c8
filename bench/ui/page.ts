// The browser side shared by the scenarios: Debian's Chromium, a signed-in page with the probes
// installed, and the renderer's own counters through the Chrome DevTools Protocol.

import type { Browser, CDPSession, Page } from 'playwright-core';

import type { Account } from '../../frontend/e2e/support/api';

import { installProbes } from './probes';
import type { Recording } from './probes';

export const VIEWPORT = { width: 1280, height: 800 };

/** A fresh context (its own storage), signed in through the login form like a person. */
export async function signedInPage(
  browser: Browser,
  baseUrl: string,
  account: Account,
): Promise<Page> {
  const context = await browser.newContext({
    baseURL: baseUrl,
    viewport: VIEWPORT,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  await context.addInitScript(installProbes);
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/chat(\/|$)/);
  return page;
}

/** The renderer's main-thread totals (Performance.getMetrics), in milliseconds. */
export interface MainThreadTime {
  scriptMs: number;
  taskMs: number;
  layoutMs: number;
  styleMs: number;
}

export async function mainThreadTime(cdp: CDPSession): Promise<MainThreadTime> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const value = (name: string) => (metrics.find((m) => m.name === name)?.value ?? 0) * 1000;
  return {
    scriptMs: value('ScriptDuration'),
    taskMs: value('TaskDuration'),
    layoutMs: value('LayoutDuration'),
    styleMs: value('RecalcStyleDuration'),
  };
}

export function timeBetween(before: MainThreadTime, after: MainThreadTime): MainThreadTime {
  return {
    scriptMs: after.scriptMs - before.scriptMs,
    taskMs: after.taskMs - before.taskMs,
    layoutMs: after.layoutMs - before.layoutMs,
    styleMs: after.styleMs - before.styleMs,
  };
}

export async function startRecording(page: Page): Promise<void> {
  await page.evaluate(() => window.__benchProbe?.start());
}

export async function stopRecording(page: Page): Promise<Recording> {
  const recording = await page.evaluate(() => window.__benchProbe?.stop());
  if (recording === undefined) throw new Error('the page has no benchmark probe');
  return recording;
}

/** Waits until two more frames have been painted: the commit's effects and layout are done. */
export async function twoFrames(page: Page): Promise<void> {
  await page.evaluate(
    () =>
      new Promise<void>((resolve) => {
        requestAnimationFrame(() => requestAnimationFrame(() => resolve()));
      }),
  );
}

/** The text the last answer shows: its rendered markdown, nothing else (no cursor, no buttons). */
export async function lastAnswerText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const answers = document.querySelectorAll('[data-testid="message"][data-role="assistant"]');
    const last = answers[answers.length - 1];
    return last?.querySelector<HTMLElement>('[data-testid="message-text"]')?.innerText ?? '';
  });
}
