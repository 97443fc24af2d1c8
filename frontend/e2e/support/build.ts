// The tests serve frontend/dist: build it first when it is missing or older than its sources.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { DIST_DIR, FRONTEND_DIR } from './paths';

const SOURCES = ['src', 'public', 'index.html', 'vite.config.ts', 'package-lock.json'];

function newestMtime(target: string): number {
  if (!existsSync(target)) return 0;
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(target)) {
    if (/\.test\.tsx?$/.test(entry) || entry === 'test') continue;
    newest = Math.max(newest, newestMtime(path.join(target, entry)));
  }
  return newest;
}

/** Returns why it built ('missing' | 'stale'), or null when dist was up to date. */
export function ensureBuild(): 'missing' | 'stale' | null {
  const index = path.join(DIST_DIR, 'index.html');
  const sources = Math.max(...SOURCES.map((s) => newestMtime(path.join(FRONTEND_DIR, s))));
  const reason = !existsSync(index)
    ? 'missing'
    : statSync(index).mtimeMs < sources
      ? 'stale'
      : null;
  if (reason === null) return null;
  console.log(`frontend/dist is ${reason}: building it (vite build)…`);
  const result = spawnSync(
    process.execPath,
    [
      path.join(FRONTEND_DIR, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      '--outDir',
      DIST_DIR,
    ],
    {
      cwd: FRONTEND_DIR,
      stdio: 'inherit',
    },
  );
  if (result.status !== 0) throw new Error(`vite build failed (${result.status})`);
  return reason;
}
