// Evidence for a person to look at: the page at a phone's width and at a desktop's, saved under
// e2e/artifacts/screenshots/ (git-ignored) and attached to the test's report.

import { mkdirSync } from 'node:fs';
import path from 'node:path';

import type { Page, TestInfo } from '@playwright/test';

import { SCREENSHOTS_DIR } from './paths';

export const VIEWPORTS = {
  narrow: { width: 390, height: 844 },
  wide: { width: 1440, height: 900 },
} as const;

/** Saves `<name>-narrow.png` and `<name>-wide.png`, then puts the viewport back. */
export async function snap(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  const original = page.viewportSize();
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    // Let layout (and the stick-to-bottom scroll, debounced 100 ms) settle at the new size.
    await page.waitForTimeout(200);
    const file = path.join(SCREENSHOTS_DIR, `${name}-${label}.png`);
    await page.screenshot({ path: file, animations: 'disabled', caret: 'initial' });
    await testInfo.attach(`${name}-${label}`, { path: file, contentType: 'image/png' });
  }
  if (original !== null) await page.setViewportSize(original);
}
