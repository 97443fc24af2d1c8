// Browser tests: @playwright/test driving Debian's Chromium (never a downloaded browser) against
// real `chatstream serve` processes the fixtures start (support/fixtures.ts). `npm run e2e`.

import path from 'node:path';

import { defineConfig } from '@playwright/test';

import { CHROMIUM_ARGS, CHROMIUM_PATH } from './support/chromium';
import { ARTIFACTS_DIR, E2E_DIR, REPORTS_DIR } from './support/paths';

export default defineConfig({
  testDir: path.join(E2E_DIR, 'specs'),
  outputDir: path.join(ARTIFACTS_DIR, 'test-results'),
  globalSetup: path.join(E2E_DIR, 'global-setup.ts'),
  // Two cores: two workers, each with its own server(s). Files run in order inside a worker.
  workers: 2,
  fullyParallel: false,
  retries: 0,
  forbidOnly: process.env.CI === 'true',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['junit', { outputFile: path.join(REPORTS_DIR, 'e2e.xml') }]],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
    viewport: { width: 1280, height: 800 },
    locale: 'en-GB',
    timezoneId: 'UTC',
    actionTimeout: 10_000,
    // A trace of every failure (DOM snapshots; no screencast, which costs a core on this machine).
    trace: { mode: 'retain-on-failure', screenshots: false, snapshots: true, sources: false },
    screenshot: 'only-on-failure',
  },
  projects: [
    { name: 'flows', testIgnore: /log-audit\.spec\.ts/ },
    // Runs last: reads every server log of the run for any token a test saw.
    { name: 'log-audit', testMatch: /log-audit\.spec\.ts/, dependencies: ['flows'] },
  ],
});
