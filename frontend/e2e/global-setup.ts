// Once per run: fresh artifact folders, then a template database that every test server copies:
// migrated, with a pool of users who have finished onboarding (seeded through the real API by a
// fast scripted server), so a test that needs a user in the chat starts there in milliseconds.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { ApiClient, PASSWORD } from './support/api';
import type { Account } from './support/api';
import { ensureBuild } from './support/build';
import { chromiumMissingReason, IS_CI } from './support/chromium';
import {
  RUN_DIR,
  SCREENSHOTS_DIR,
  SERVER_LOGS_DIR,
  TEMPLATE_DB,
  TOKENS_DIR,
  ARTIFACTS_DIR,
  USERS_FILE,
} from './support/paths';
import { ChatStreamServer, runChatstream } from './support/server';

/** Users in the template; each server hands them out one per test. */
const SEEDED_USERS = 16;

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(run));
  }
}

export default async function globalSetup(): Promise<void> {
  for (const dir of [SCREENSHOTS_DIR, SERVER_LOGS_DIR, TOKENS_DIR, RUN_DIR]) {
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const missing = chromiumMissingReason();
  if (missing !== null) {
    console.warn(
      IS_CI
        ? `\n${missing}\nCI=true: every browser test fails.\n`
        : `\n${missing}\nSkipping the browser tests (with CI=true they would fail).\n`,
    );
    return; // no test will need a server
  }

  ensureBuild();

  const templateDir = path.dirname(TEMPLATE_DB);
  mkdirSync(templateDir, { recursive: true });
  await runChatstream(['migrate'], { DATA_DIR: templateDir }, templateDir);

  const seeder = await ChatStreamServer.start({
    name: 'seed',
    dataDir: templateDir,
    env: { SCRIPTED_TEXT: 'Thank you, noted.', SCRIPTED_CHUNK_DELAY_S: '0' },
  });
  const accounts: Account[] = Array.from({ length: SEEDED_USERS }, (_, i) => ({
    email: `seeded-${i + 1}@example.com`,
    password: PASSWORD,
    displayName: 'Ada Lovelace',
  }));
  try {
    await inBatches(accounts, 4, async (account) => {
      const api = new ApiClient(seeder.url);
      await api.register(account);
      await api.login(account);
      await api.completeOnboarding([
        'Ada',
        'I build software.',
        'Understanding how streaming works.',
        'Short and direct.',
      ]);
    });
  } finally {
    await seeder.stop();
  }
  writeFileSync(USERS_FILE, JSON.stringify(accounts, null, 2));
}
