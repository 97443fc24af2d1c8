// A real `chatstream serve` for the tests: its own free loopback port, its own copy of the
// seeded SQLite database, its own settings, its log captured to a file; stopped at the end.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { CHATSTREAM_BIN, DIST_DIR, SERVER_LOGS_DIR, TEMPLATE_DB } from './paths';

/** Settings the server reads (README's configuration table): never inherited from the shell. */
const SETTING_NAME =
  /^(CHATSTREAM_ENV|DATA_DIR|DATABASE_URL|REDIS_URL|CELERY_BROKER_URL|LLM_.*|LOCAL_MODEL_.*|OPENAI_.*|ANTHROPIC_.*|OLLAMA_.*|CHAT_HISTORY_CHAR_BUDGET|SCRIPTED_.*|SECRET_KEY|ACCESS_TOKEN_.*|REFRESH_.*|STREAM_.*|ENABLE_STREAMING|STREAMING_ROLLOUT_PERCENT|MAX_MESSAGE_CHARS|PERSIST_TIMEOUT_S|RATE_LIMIT_.*|METRICS_PORT|EXPOSE_METRICS|EXPOSE_API_DOCS|LOG_FORMAT|LOG_LEVEL|FRONTEND_DIST_DIR|ONBOARDING_STEPS|PROMETHEUS_MULTIPROC_DIR)$/i;

/** A random signing secret per process: never the development one. */
const RUN_SECRET = `e2e-${randomBytes(24).toString('hex')}`;

const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;

/** Servers still running: killed if this process exits without stopping them (Ctrl-C). */
const RUNNING = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of RUNNING) child.kill('SIGKILL');
});

export type ServerEnv = Record<string, string>;

export interface ServerOptions {
  /** Names the log file: `<name>-<port>.log`. */
  name: string;
  env?: ServerEnv;
  /** Start from the seeded template database (users who finished onboarding). Default true. */
  seeded?: boolean;
  /** Serve this existing, migrated data directory (kept on stop) instead of a fresh copy. */
  dataDir?: string;
}

/** The settings every e2e server starts from; a test's env overrides them. */
export const BASE_ENV: ServerEnv = {
  CHATSTREAM_ENV: 'test',
  LLM_MODEL: 'scripted',
  ENABLE_STREAMING: 'true',
  LOG_FORMAT: 'json',
  LOG_LEVEL: 'info',
  FRONTEND_DIST_DIR: DIST_DIR,
  SECRET_KEY: RUN_SECRET,
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => {
        resolve(port);
      });
    });
  });
}

function childEnv(settings: ServerEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!SETTING_NAME.test(key)) env[key] = value;
  }
  return { ...env, PYTHONUNBUFFERED: '1', ...settings };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class ChatStreamServer {
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined = undefined;

  private constructor(
    readonly name: string,
    readonly port: number,
    readonly dataDir: string,
    readonly logPath: string,
    private readonly process: ChildProcess,
    private readonly ownsDataDir: boolean,
  ) {
    this.exited = new Promise((resolve) => {
      process.once('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Runs `chatstream migrate` (a fresh database) or copies the seeded template, then serves. */
  static async start(options: ServerOptions): Promise<ChatStreamServer> {
    if (!existsSync(CHATSTREAM_BIN)) {
      throw new Error(`${CHATSTREAM_BIN} is missing: run \`make backend\` first.`);
    }
    const ownsDataDir = options.dataDir === undefined;
    const dataDir =
      options.dataDir ?? mkdtempSync(path.join(tmpdir(), `chatstream-e2e-${options.name}-`));
    const settings: ServerEnv = { ...BASE_ENV, DATA_DIR: dataDir, ...options.env };
    if (!ownsDataDir) {
      // served as it is
    } else if (options.seeded ?? true) {
      for (const suffix of ['', '-wal', '-shm']) {
        if (existsSync(TEMPLATE_DB + suffix)) {
          copyFileSync(TEMPLATE_DB + suffix, path.join(dataDir, `chatstream.db${suffix}`));
        }
      }
    } else {
      await runChatstream(['migrate'], settings, dataDir);
    }
    // The port is free when chosen but could be taken before uvicorn binds it: try again then.
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await ChatStreamServer.spawn(options.name, settings, dataDir, ownsDataDir);
      } catch (error) {
        const inUse = error instanceof Error && error.message.includes('address already in use');
        if (!inUse || attempt >= 3) throw error;
      }
    }
  }

  private static async spawn(
    name: string,
    settings: ServerEnv,
    dataDir: string,
    ownsDataDir: boolean,
  ): Promise<ChatStreamServer> {
    const port = await freePort();
    mkdirSync(SERVER_LOGS_DIR, { recursive: true });
    const logPath = path.join(SERVER_LOGS_DIR, `${name}-${port}.log`);
    const log = createWriteStream(logPath);
    const child = spawn(CHATSTREAM_BIN, ['serve', '--host', '127.0.0.1', '--port', String(port)], {
      cwd: dataDir, // no stray .env file is read
      env: childEnv(settings),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    RUNNING.add(child);
    child.once('exit', () => {
      RUNNING.delete(child);
      // Let the pipes drain into the file first.
      setTimeout(() => log.end(), 100);
    });
    const server = new ChatStreamServer(name, port, dataDir, logPath, child, ownsDataDir);
    await server.waitUntilReady();
    return server;
  }

  private async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) {
        await sleep(300); // the log's last lines
        throw new Error(
          `chatstream serve exited (${this.exitCode}) before it was ready:\n${this.logTail()}`,
        );
      }
      try {
        const response = await fetch(`${this.url}/readyz`);
        if (response.ok) return;
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
    await this.stop();
    throw new Error(
      `chatstream serve was not ready within ${READY_TIMEOUT_MS} ms:\n${this.logTail()}`,
    );
  }

  /** SIGTERM (open streams end cleanly), SIGKILL if it hangs; the data directory goes too. */
  async stop(): Promise<void> {
    if (this.exitCode === undefined) {
      this.process.kill('SIGTERM');
      const stopped = await Promise.race([
        this.exited.then(() => true),
        sleep(STOP_TIMEOUT_MS).then(() => false),
      ]);
      if (!stopped) {
        this.process.kill('SIGKILL');
        await this.exited;
      }
    }
    await sleep(150); // the log stream's last write
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** SIGKILL: the process dies as in a crash, nothing ends cleanly; the data directory stays. */
  async kill(): Promise<void> {
    if (this.exitCode === undefined) {
      this.process.kill('SIGKILL');
      await this.exited;
    }
    await sleep(150); // the log stream's last write
  }

  readLog(): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : '';
  }

  logTail(lines = 40): string {
    return this.readLog().split('\n').slice(-lines).join('\n');
  }
}

/** Runs a `chatstream` command to completion (migrate), failing with its output. */
export async function runChatstream(
  args: string[],
  settings: ServerEnv,
  cwd: string,
): Promise<void> {
  const child = spawn(CHATSTREAM_BIN, args, { cwd, env: childEnv({ ...BASE_ENV, ...settings }) });
  let output = '';
  child.stdout.on('data', (data: Buffer) => (output += data.toString()));
  child.stderr.on('data', (data: Buffer) => (output += data.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`chatstream ${args.join(' ')} failed (${code}):\n${output}`);
}
