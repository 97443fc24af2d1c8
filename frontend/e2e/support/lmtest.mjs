// e2e/support/server.ts
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path2 from "node:path";

// e2e/support/paths.ts
import path from "node:path";
import { fileURLToPath } from "node:url";
var E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
var FRONTEND_DIR = path.resolve(E2E_DIR, "..");
var REPO_DIR = path.resolve(FRONTEND_DIR, "..");
var BACKEND_DIR = path.join(REPO_DIR, "backend");
var CHATSTREAM_BIN = path.join(BACKEND_DIR, ".venv", "bin", "chatstream");
var DIST_DIR = path.join(FRONTEND_DIR, "dist");
var REPORTS_DIR = path.join(REPO_DIR, "reports");
var ARTIFACTS_DIR = path.join(E2E_DIR, "artifacts");
var SCREENSHOTS_DIR = path.join(ARTIFACTS_DIR, "screenshots");
var SERVER_LOGS_DIR = path.join(ARTIFACTS_DIR, "server-logs");
var TOKENS_DIR = path.join(ARTIFACTS_DIR, "tokens");
var RUN_DIR = path.join(ARTIFACTS_DIR, "run");
var TEMPLATE_DB = path.join(RUN_DIR, "template", "chatstream.db");
var USERS_FILE = path.join(RUN_DIR, "users.json");

// e2e/support/server.ts
var SETTING_NAME = /^(CHATSTREAM_ENV|DATA_DIR|DATABASE_URL|REDIS_URL|CELERY_BROKER_URL|LLM_.*|LOCAL_MODEL_PATH|OPENAI_.*|ANTHROPIC_.*|OLLAMA_.*|CHAT_HISTORY_CHAR_BUDGET|SCRIPTED_.*|SECRET_KEY|ACCESS_TOKEN_.*|STREAM_.*|ENABLE_STREAMING|STREAMING_ROLLOUT_PERCENT|MAX_MESSAGE_CHARS|PERSIST_TIMEOUT_S|RATE_LIMIT_.*|METRICS_PORT|LOG_FORMAT|LOG_LEVEL|FRONTEND_DIST_DIR|ONBOARDING_STEPS|PROMETHEUS_MULTIPROC_DIR)$/i;
var RUN_SECRET = process.env.E2E_SECRET_KEY ?? `e2e-${randomBytes(24).toString("hex")}`;
process.env.E2E_SECRET_KEY = RUN_SECRET;
var READY_TIMEOUT_MS = 9e4;
var STOP_TIMEOUT_MS = 15e3;
var BASE_ENV = {
  CHATSTREAM_ENV: "test",
  LLM_MODEL: "scripted",
  ENABLE_STREAMING: "true",
  LOG_FORMAT: "json",
  LOG_LEVEL: "info",
  FRONTEND_DIST_DIR: DIST_DIR,
  SECRET_KEY: RUN_SECRET
};
async function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => {
        resolve(port);
      });
    });
  });
}
function childEnv(settings) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!SETTING_NAME.test(key)) env[key] = value;
  }
  return { ...env, PYTHONUNBUFFERED: "1", ...settings };
}
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
var ChatStreamServer = class _ChatStreamServer {
  constructor(name, port, dataDir, logPath, process2, ownsDataDir) {
    this.name = name;
    this.port = port;
    this.dataDir = dataDir;
    this.logPath = logPath;
    this.process = process2;
    this.ownsDataDir = ownsDataDir;
    this.exited = new Promise((resolve) => {
      process2.once("exit", (code) => {
        this.exitCode = code;
        resolve(code);
      });
    });
  }
  name;
  port;
  dataDir;
  logPath;
  process;
  ownsDataDir;
  exited;
  exitCode = void 0;
  get url() {
    return `http://127.0.0.1:${this.port}`;
  }
  /** Runs `chatstream migrate` (a fresh database) or copies the seeded template, then serves. */
  static async start(options) {
    if (!existsSync(CHATSTREAM_BIN)) {
      throw new Error(`${CHATSTREAM_BIN} is missing: run \`make backend\` first.`);
    }
    const ownsDataDir = options.dataDir === void 0;
    const dataDir = options.dataDir ?? mkdtempSync(path2.join(tmpdir(), `chatstream-e2e-${options.name}-`));
    const settings = { ...BASE_ENV, DATA_DIR: dataDir, ...options.env };
    if (!ownsDataDir) {
    } else if (options.seeded ?? true) {
      for (const suffix of ["", "-wal", "-shm"]) {
        if (existsSync(TEMPLATE_DB + suffix)) {
          copyFileSync(TEMPLATE_DB + suffix, path2.join(dataDir, `chatstream.db${suffix}`));
        }
      }
    } else {
      await runChatstream(["migrate"], settings, dataDir);
    }
    const port = await freePort();
    mkdirSync(SERVER_LOGS_DIR, { recursive: true });
    const logPath = path2.join(SERVER_LOGS_DIR, `${options.name}-${port}.log`);
    const log = createWriteStream(logPath);
    const child = spawn(CHATSTREAM_BIN, ["serve", "--host", "127.0.0.1", "--port", String(port)], {
      cwd: dataDir,
      // no stray .env file is read
      env: childEnv(settings),
      stdio: ["ignore", "pipe", "pipe"]
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once("exit", () => {
      setTimeout(() => log.end(), 100);
    });
    const server = new _ChatStreamServer(options.name, port, dataDir, logPath, child, ownsDataDir);
    await server.waitUntilReady();
    return server;
  }
  async waitUntilReady() {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.exitCode !== void 0) {
        throw new Error(
          `chatstream serve exited (${this.exitCode}) before it was ready:
${this.logTail()}`
        );
      }
      try {
        const response = await fetch(`${this.url}/readyz`);
        if (response.ok) return;
      } catch {
      }
      await sleep(100);
    }
    await this.stop();
    throw new Error(
      `chatstream serve was not ready within ${READY_TIMEOUT_MS} ms:
${this.logTail()}`
    );
  }
  /** SIGTERM (open streams end cleanly), SIGKILL if it hangs; the data directory goes too. */
  async stop() {
    if (this.exitCode === void 0) {
      this.process.kill("SIGTERM");
      const stopped = await Promise.race([
        this.exited.then(() => true),
        sleep(STOP_TIMEOUT_MS).then(() => false)
      ]);
      if (!stopped) {
        this.process.kill("SIGKILL");
        await this.exited;
      }
    }
    await sleep(150);
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
  readLog() {
    return existsSync(this.logPath) ? readFileSync(this.logPath, "utf8") : "";
  }
  logTail(lines = 40) {
    return this.readLog().split("\n").slice(-lines).join("\n");
  }
};
async function runChatstream(args, settings, cwd) {
  const child = spawn(CHATSTREAM_BIN, args, { cwd, env: childEnv({ ...BASE_ENV, ...settings }) });
  let output = "";
  child.stdout.on("data", (data) => output += data.toString());
  child.stderr.on("data", (data) => output += data.toString());
  const code = await new Promise((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`chatstream ${args.join(" ")} failed (${code}):
${output}`);
}

// e2e/lmtest.mts
var s = await ChatStreamServer.start({ name: "lmtest", env: { LLM_MODEL: "local", LLM_MAX_TOKENS: "24" } });
console.log(s.url);
var tok = await (await fetch(`${s.url}/api/v1/auth/token`, { method: "POST", body: new URLSearchParams({ username: "seeded-1@example.com", password: "correct horse battery staple" }) })).json();
var t = Date.now();
var r = await fetch(`${s.url}/api/v1/chat/stream?message=Say+hello&client_message_id=abc2&token=${tok.access_token}`);
var text = await r.text();
console.log(Date.now() - t, text.split("\n").filter((l) => l.includes('"chunk"')).length);
await s.stop();
