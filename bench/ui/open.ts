// Scenario (u2): opening a conversation from the sidebar, one of 10 messages against one of
// 1,000. Only the newest page is fetched and rendered, so the two should cost about the same:
// the renderer's script time (Performance.getMetrics ScriptDuration) from the click until the
// newest message is on screen and two frames are painted. Each open starts from a third, short
// conversation; the two are opened in turn (ABBA ...) so a drift of the machine hits both.

import type { Browser, CDPSession, Page } from 'playwright-core';

import { mainThreadTime, startRecording, stopRecording, timeBetween, twoFrames } from './page';
import type { MainThreadTime } from './page';

export interface OpenTarget {
  label: string;
  conversationId: string;
  newestMessageId: string;
}

export interface OpenRun {
  label: string;
  wallMs: number;
  mainThread: MainThreadTime;
  /**
   * CPU time of the renderer processes (all threads), from the operating system in 10 ms ticks:
   * coarser than the script time but not stretched when other processes take the cores.
   */
  rendererCpuMs: number;
  messagesShown: number;
  commits: number;
  longTasks: number;
}

function loaded(page: Page, target: OpenTarget) {
  return page
    .locator(`[data-message-id="${target.newestMessageId}"]`)
    .waitFor({ state: 'attached', timeout: 30_000 });
}

/** The CPU time of every renderer process so far (only the reader's page is busy), ms. */
async function rendererCpuMs(browserCdp: CDPSession): Promise<number> {
  const { processInfo } = await browserCdp.send('SystemInfo.getProcessInfo');
  return processInfo
    .filter((p) => p.type === 'renderer')
    .reduce((sum, p) => sum + p.cpuTime * 1000, 0);
}

async function settle(page: Page): Promise<void> {
  await twoFrames(page);
  await page.waitForTimeout(250); // late effects and the sidebar's own requests
}

/** Opens `target` from the sidebar, starting at `from`, and measures it. */
export async function openOnce(
  page: Page,
  cdp: CDPSession,
  browserCdp: CDPSession,
  from: OpenTarget,
  target: OpenTarget,
): Promise<OpenRun> {
  await page.locator(`a[href="/chat/${from.conversationId}"]`).click();
  await loaded(page, from);
  await settle(page);

  const before = await mainThreadTime(cdp);
  const cpuBefore = await rendererCpuMs(browserCdp);
  await startRecording(page);
  const started = performance.now();
  await page.locator(`a[href="/chat/${target.conversationId}"]`).click();
  await loaded(page, target);
  await page.getByText('Loading conversation…').waitFor({ state: 'detached' });
  await twoFrames(page);
  const wallMs = performance.now() - started;
  const recording = await stopRecording(page);
  const after = await mainThreadTime(cdp);
  const cpuAfter = await rendererCpuMs(browserCdp);
  const messagesShown = await page.locator('[role="log"] [data-testid="message"]').count();
  return {
    label: target.label,
    wallMs,
    mainThread: timeBetween(before, after),
    rendererCpuMs: cpuAfter - cpuBefore,
    messagesShown,
    commits: recording.commits.length,
    longTasks: recording.longTasks.length,
  };
}

/** `repeats` opens of each target, alternating which goes first. */
export async function openConversations(
  browser: Browser,
  page: Page,
  home: OpenTarget,
  small: OpenTarget,
  large: OpenTarget,
  repeats: number,
): Promise<OpenRun[]> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const browserCdp = await browser.newBrowserCDPSession();
  await page.goto(`/chat/${home.conversationId}`);
  await loaded(page, home);
  // One unmeasured open of each: the code paths are compiled and the caches warm for both.
  await openOnce(page, cdp, browserCdp, home, small);
  await openOnce(page, cdp, browserCdp, home, large);
  const runs: OpenRun[] = [];
  for (let i = 0; i < repeats; i += 1) {
    const order = i % 2 === 0 ? [small, large] : [large, small];
    for (const target of order) runs.push(await openOnce(page, cdp, browserCdp, home, target));
  }
  await cdp.detach();
  await browserCdp.detach();
  return runs;
}
