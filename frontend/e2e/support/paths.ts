// Where things are: the repository, the back end's command, the built front end, and the
// artifacts every run leaves behind (git-ignored).

import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FRONTEND_DIR = path.resolve(E2E_DIR, '..');
export const REPO_DIR = path.resolve(FRONTEND_DIR, '..');
export const BACKEND_DIR = path.join(REPO_DIR, 'backend');
export const CHATSTREAM_BIN = path.join(BACKEND_DIR, '.venv', 'bin', 'chatstream');
// E2E_DIST_DIR and E2E_ARTIFACTS_DIR let two runs share one checkout without clobbering each
// other's build, seeded database or logs (each run starts by clearing its artifacts).
export const DIST_DIR = process.env.E2E_DIST_DIR ?? path.join(FRONTEND_DIR, 'dist');
export const REPORTS_DIR = process.env.E2E_REPORTS_DIR ?? path.join(REPO_DIR, 'reports');

export const ARTIFACTS_DIR = process.env.E2E_ARTIFACTS_DIR ?? path.join(E2E_DIR, 'artifacts');
export const SCREENSHOTS_DIR = path.join(ARTIFACTS_DIR, 'screenshots');
/** One log file per server started (stderr and stdout). */
export const SERVER_LOGS_DIR = path.join(ARTIFACTS_DIR, 'server-logs');
/** Every token a test saw, one file per worker: the log audit checks none reached a log. */
export const TOKENS_DIR = path.join(ARTIFACTS_DIR, 'tokens');
/** What global setup prepared for the workers (the seeded database template). */
export const RUN_DIR = path.join(ARTIFACTS_DIR, 'run');
export const TEMPLATE_DB = path.join(RUN_DIR, 'template', 'chatstream.db');
/** The seeded users (all onboarded) in the template database. */
export const USERS_FILE = path.join(RUN_DIR, 'users.json');
