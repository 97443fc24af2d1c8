// Scenario (u3): reading a long conversation backwards. Opened at its end, the view is scrolled
// up with the wheel and then to the top; the app loads the page before by itself. The message
// that was at the top of the view is measured before the page arrives and after it is shown:
// any difference is a jump the reader sees. Repeated for several pages, with the script time
// each page cost.

import type { Page } from 'playwright-core';

import { mainThreadTime, timeBetween, twoFrames } from './page';
import type { MainThreadTime } from './page';

export interface ScrollPage {
  /** The top message's offset from the view's top: after the page minus before, px. */
  jumpPx: number;
  /** The largest move of that message at any animation frame while the page came in, px. */
  maxFrameJumpPx: number;
  framesWatched: number;
  messagesBefore: number;
  messagesAfter: number;
  wallMs: number;
  mainThread: MainThreadTime;
}

interface Place {
  id: string;
  top: number;
  count: number;
}

const SCROLLER = '[role="region"][aria-label="Messages"]';

/**
 * Scrolls to the very top and says which message is at the top of the view, and where; then
 * notes where that message is at every animation frame (what is painted) until told to stop.
 */
function scrollToTop(page: Page): Promise<Place> {
  return page.locator(SCROLLER).evaluate((view) => {
    view.scrollTop = 0;
    const viewTop = () => view.getBoundingClientRect().top;
    const items = view.querySelectorAll('[data-message-id]');
    for (const item of items) {
      const rect = item.getBoundingClientRect();
      if (rect.bottom > viewTop()) {
        const id = item.getAttribute('data-message-id') ?? '';
        const tops: number[] = [];
        let watching = true;
        const onFrame = () => {
          if (!watching) return;
          const now = view.querySelector(`[data-message-id="${id}"]`);
          tops.push(now === null ? NaN : now.getBoundingClientRect().top - viewTop());
          requestAnimationFrame(onFrame);
        };
        requestAnimationFrame(onFrame);
        window.__benchAnchor = {
          stop: () => {
            watching = false;
            return tops;
          },
        };
        return { id, top: rect.top - viewTop(), count: items.length };
      }
    }
    throw new Error('no message in view');
  });
}

/** The anchor's place at each frame since scrollToTop. */
async function anchorTops(page: Page): Promise<number[]> {
  const tops = await page.evaluate(() => window.__benchAnchor?.stop());
  if (tops === undefined) throw new Error('no anchor was watched');
  return tops;
}

function placeOf(page: Page, id: string): Promise<number> {
  return page.locator(SCROLLER).evaluate((view, messageId) => {
    const item = view.querySelector(`[data-message-id="${messageId}"]`);
    if (item === null) throw new Error(`message ${messageId} is gone`);
    return item.getBoundingClientRect().top - view.getBoundingClientRect().top;
  }, id);
}

function firstShownId(page: Page): Promise<string | null> {
  return page.locator(`${SCROLLER} [data-message-id]`).first().getAttribute('data-message-id');
}

export async function scrollBack(
  page: Page,
  conversationId: string,
  newestMessageId: string,
  pages: number,
): Promise<ScrollPage[]> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(`/chat/${conversationId}`);
  await page.locator(`[data-message-id="${newestMessageId}"]`).waitFor({ state: 'attached' });
  // The view settles at the newest message first.
  await page.waitForFunction((selector) => {
    const view = document.querySelector(selector);
    return view !== null && view.scrollHeight - view.scrollTop - view.clientHeight < 5;
  }, SCROLLER);
  const results: ScrollPage[] = [];
  for (let i = 0; i < pages; i += 1) {
    await page.locator(SCROLLER).hover();
    await page.mouse.wheel(0, -400);
    await page.waitForTimeout(150);
    const firstBefore = await firstShownId(page);
    const before = await mainThreadTime(cdp);
    const started = performance.now();
    const place = await scrollToTop(page);
    await page.waitForFunction(
      ([selector, first]) =>
        document.querySelector(`${selector} [data-message-id]`)?.getAttribute('data-message-id') !==
        first,
      [SCROLLER, firstBefore] as const,
      { timeout: 30_000 },
    );
    await twoFrames(page);
    const wallMs = performance.now() - started;
    const after = await mainThreadTime(cdp);
    const tops = await anchorTops(page);
    const top = await placeOf(page, place.id);
    results.push({
      jumpPx: top - place.top,
      // A frame where the message was gone counts as an infinite jump.
      maxFrameJumpPx: Math.max(
        0,
        ...tops.map((t) => (Number.isNaN(t) ? Infinity : Math.abs(t - place.top))),
      ),
      framesWatched: tops.length,
      messagesBefore: place.count,
      messagesAfter: await page.locator(`${SCROLLER} [data-message-id]`).count(),
      wallMs,
      mainThread: timeBetween(before, after),
    });
    await page.waitForTimeout(200);
  }
  await cdp.detach();
  return results;
}
