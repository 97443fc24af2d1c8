// Imported first by main.ts: the e2e support modules read these directories when they load, and
// the benchmark's build, server logs and tokens go to a temporary directory of its own, never
// into frontend/dist or a test run's artifacts (an e2e run may be going on at the same time).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const WORK_DIR = process.env.BENCH_UI_DIR ?? mkdtempSync(path.join(tmpdir(), 'bench-ui-'));

process.env.E2E_DIST_DIR ??= path.join(WORK_DIR, 'dist');
process.env.E2E_ARTIFACTS_DIR ??= path.join(WORK_DIR, 'artifacts');
process.env.E2E_REPORTS_DIR ??= path.join(WORK_DIR, 'reports');
