// Runs after every other spec (the `log-audit` project depends on `flows`): no server log of
// the run contains a token. Every access and stream token a test saw was written down
// (support/tokens.ts); none may appear in any log, and nothing shaped like a JWT either.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { expect, test } from '@playwright/test';

import { chromiumMissingReason, IS_CI } from '../support/chromium';
import { SERVER_LOGS_DIR, TOKENS_DIR } from '../support/paths';

function readAll(dir: string, suffix: string): Map<string, string> {
  const files = new Map<string, string>();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir).filter((n) => n.endsWith(suffix))) {
    files.set(name, readFileSync(path.join(dir, name), 'utf8'));
  }
  return files;
}

test('no server log of the run contains a token', () => {
  const missing = chromiumMissingReason();
  test.skip(missing !== null && !IS_CI, `no browser tests ran: ${missing ?? ''}`);
  const logs = readAll(SERVER_LOGS_DIR, '.log');
  const tokens = [...readAll(TOKENS_DIR, '.txt').values()]
    .flatMap((text) => text.split('\n'))
    .filter((token) => token.length > 20);
  expect(logs.size).toBeGreaterThan(1);
  expect(tokens.length).toBeGreaterThan(5); // the audit looks for something real

  const leaks: string[] = [];
  for (const [name, text] of logs) {
    for (const token of tokens) {
      if (text.includes(token)) leaks.push(`${name}: a token the tests used`);
    }
    const jwt = /eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}/.exec(text);
    if (jwt !== null) leaks.push(`${name}: something shaped like a JWT`);
    const query = /[?&](?:access_)?token=(?!\[REDACTED\])[^&"\s]+/.exec(text);
    if (query !== null) leaks.push(`${name}: ${query[0]}`);
  }
  expect(leaks).toEqual([]);

  // The stream URLs (token in the query) were logged, redacted.
  const all = [...logs.values()].join('\n');
  expect(all).toMatch(
    /"path": "\/api\/v1\/chat\/messages\/[^/"]+\/stream\?[^"]*token=\[REDACTED\]/,
  );
});
