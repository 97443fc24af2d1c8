// The test API every spec imports: a real server per worker (its settings chosen by the spec
// with `test.use({ serverEnv })`), a seeded user per test, and a page whose tokens are recorded
// and whose uncaught errors are collected.

import { readFileSync } from 'node:fs';

import { test as base, expect } from '@playwright/test';
import type { Page } from '@playwright/test';

import { ApiClient } from './api';
import type { Account } from './api';
import { chromiumMissingReason, IS_CI } from './chromium';
import { USERS_FILE } from './paths';
import { ChatStreamServer } from './server';
import type { ServerEnv } from './server';
import { recordToken } from './tokens';

export interface TestServer {
  server: ChatStreamServer;
  url: string;
  /** The next seeded user nobody on this server has used (all have finished onboarding). */
  claimUser: () => Account;
}

interface WorkerFixtures {
  /** Settings for this worker's server, on top of BASE_ENV (see server.ts). */
  serverEnv: ServerEnv;
  /** Names the server's log file. */
  serverName: string;
  testServer: TestServer;
}

interface TestFixtures {
  /** Fails the test (CI) or skips it (elsewhere) when Chromium is missing. */
  requireChromium: undefined;
  /** A seeded user, already through onboarding. */
  account: Account;
  /** The REST API, signed in as `account`. */
  api: ApiClient;
}

const NO_SERVER = new Proxy({} as TestServer, {
  get() {
    throw new Error('no server: Chromium is missing');
  },
});

export const test = base.extend<TestFixtures, WorkerFixtures>({
  serverEnv: [{}, { scope: 'worker', option: true }],
  serverName: ['default', { scope: 'worker', option: true }],

  testServer: [
    async ({ serverEnv, serverName }, use) => {
      if (chromiumMissingReason() !== null) {
        // Every test is skipped (or, in CI, failed) by requireChromium: start nothing.
        await use(NO_SERVER);
        return;
      }
      const server = await ChatStreamServer.start({ name: serverName, env: serverEnv });
      const users = JSON.parse(readFileSync(USERS_FILE, 'utf8')) as Account[];
      let next = 0;
      await use({
        server,
        url: server.url,
        claimUser: () => {
          const user = users[next];
          next += 1;
          if (user === undefined) throw new Error('out of seeded users: raise SEEDED_USERS');
          return user;
        },
      });
      await server.stop();
    },
    { scope: 'worker', timeout: 120_000 },
  ],

  requireChromium: [
    // eslint-disable-next-line no-empty-pattern -- Playwright requires the destructuring
    async ({}, use, testInfo) => {
      const missing = chromiumMissingReason();
      if (missing !== null) {
        if (IS_CI) throw new Error(`${missing} CI=true: a missing browser is a failure.`);
        testInfo.skip(true, missing);
      }
      await use(undefined);
    },
    { auto: true },
  ],

  // Depends on requireChromium so that a missing browser is reported before anything else.
  baseURL: async ({ testServer, requireChromium: _ }, use) => {
    await use(testServer.url);
  },

  account: async ({ testServer }, use) => {
    await use(testServer.claimUser());
  },

  api: async ({ testServer, account }, use) => {
    const api = new ApiClient(testServer.url);
    await api.login(account);
    await use(api);
  },

  // Every test fails on an uncaught exception in the page, whatever else it checks.
  page: async ({ page }, use) => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.stack ?? error.message));
    // Tokens the browser receives, for the log audit (log-audit.spec.ts).
    page.on('response', (response) => {
      const url = response.url();
      if (!/\/api\/v1\/(auth\/\w+|chat\/stream-token)$/.test(new URL(url).pathname)) return;
      if (!response.ok()) return;
      // The refresh cookie (login, register, refresh) is a token too, though no script sees it.
      response
        .headerValue('set-cookie')
        .then((header) => {
          const cookie = /chatstream_refresh=([^;\s]+)/.exec(header ?? '');
          if (cookie?.[1] !== undefined) recordToken(cookie[1]);
        })
        .catch(() => undefined);
      if (response.status() === 204) return;
      response
        .json()
        .then((body: { access_token?: string; token?: string }) => {
          recordToken(body.access_token ?? body.token ?? '');
        })
        .catch(() => undefined);
    });
    await use(page);
    expect(errors, 'uncaught exceptions in the page').toEqual([]);
  },
});

export { expect };
export type { Page };
