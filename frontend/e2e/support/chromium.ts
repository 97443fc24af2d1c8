// Debian's Chromium, driven by playwright-core: nothing is downloaded. Without the
// background-networking flags Chromium's own connections are refused in this sandbox and it
// stalls; a fresh profile comes with every launch (Playwright makes a temporary user-data-dir).

import { existsSync } from 'node:fs';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const IS_CI = process.env.CI === 'true';

export function chromiumMissingReason(): string | null {
  if (existsSync(CHROMIUM_PATH)) return null;
  return (
    `Chromium not found at ${CHROMIUM_PATH} (set CHROMIUM_PATH, or \`apt-get install chromium\`; ` +
    '.ci/run installs it).'
  );
}
