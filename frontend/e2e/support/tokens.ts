// Every access and stream token the tests saw, written down so the log audit can prove none of
// them reached a server log.

import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { TOKENS_DIR } from './paths';

const seen = new Set<string>();

export function recordToken(token: string): void {
  if (token === '' || seen.has(token)) return;
  seen.add(token);
  mkdirSync(TOKENS_DIR, { recursive: true });
  appendFileSync(path.join(TOKENS_DIR, `tokens-${process.pid}.txt`), `${token}\n`);
}
