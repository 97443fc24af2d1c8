// `make bench-ui`: the browser benchmark. Builds the front end as it ships, starts the real
// `chatstream serve` with the scripted model, seeds users and conversations through the API,
// then drives Debian's Chromium through three scenarios (bench/README.md, "The browser
// benchmark"): a 3,000-chunk answer at 500 chunks/s, opening conversations of 10 and 1,000
// messages, and scrolling a long conversation back. Prints a table and writes
// bench/results/ui-<time>.json and .md. A benchmark: it exits 0 whatever the figures, 1 only
// when it could not run.

import './workdirs';

import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

import { ensureBuild } from '../../frontend/e2e/support/build';
import {
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  chromiumMissingReason,
} from '../../frontend/e2e/support/chromium';
import { REPO_DIR } from '../../frontend/e2e/support/paths';
import { ChatStreamServer, runChatstream } from '../../frontend/e2e/support/server';

import { describeMachine, watchMachine } from './machine';
import { openConversations } from './open';
import type { OpenTarget } from './open';
import { signedInPage } from './page';
import { rows, table, writeResults } from './report';
import type { Results } from './report';
import { scrollBack } from './scrollback';
import { conversation, onboardedUser, storedMessages } from './seed';
import type { Reader } from './seed';
import { streamOnce } from './stream';
import { WORK_DIR } from './workdirs';

const { values: args } = parseArgs({
  options: {
    chunks: { type: 'string', default: '3000' },
    rate: { type: 'string', default: '500' },
    'stream-runs': { type: 'string', default: '2' },
    opens: { type: 'string', default: '9' },
    'long-messages': { type: 'string', default: '1000' },
    'scroll-pages': { type: 'string', default: '4' },
  },
});
const CHUNKS = Number(args.chunks);
const RATE = Number(args.rate);
const STREAM_RUNS = Number(args['stream-runs']);
const OPENS = Number(args.opens);
const LONG = Number(args['long-messages']);
const SCROLL_PAGES = Number(args['scroll-pages']);

/** Answers are stored without limits or waiting: the server is only a fast, real back end. */
const SERVER_ENV = {
  LOG_LEVEL: 'warning',
  RATE_LIMIT_MESSAGES_PER_HOUR: '1000000',
  RATE_LIMIT_CONCURRENT_STREAMS: '1000',
};

function log(message: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}

async function newest(baseUrl: string, reader: Reader, conversationId: string): Promise<string> {
  const last = (await storedMessages(baseUrl, reader, conversationId)).at(-1);
  if (last === undefined) throw new Error(`conversation ${conversationId} is empty`);
  return last.id;
}

interface Seeded {
  writer: Reader;
  reader: Reader;
  home: OpenTarget;
  small: OpenTarget;
  large: OpenTarget;
}

/** Users and conversations, through the API of a server that answers at full speed. */
async function seed(dataDir: string): Promise<Seeded> {
  const seeder = await ChatStreamServer.start({
    name: 'bench-ui-seed',
    dataDir,
    env: { ...SERVER_ENV, SCRIPTED_CHUNK_DELAY_S: '0' },
  });
  try {
    const [writer, reader] = await Promise.all([
      onboardedUser(seeder.url, 'bench-writer'),
      onboardedUser(seeder.url, 'bench-reader'),
    ]);
    const started = performance.now();
    // The home conversation is the oldest, so the sidebar lists the other two above it.
    const home = await conversation(reader, seeder.url, 'A short conversation', 2);
    const [small, large] = await Promise.all([
      conversation(reader, seeder.url, 'Ten messages', 10),
      conversation(reader, seeder.url, `${LONG.toLocaleString('en-GB')} messages`, LONG),
    ]);
    log(`seeded ${LONG + 12} messages in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const target = async (label: string, id: string) => ({
      label,
      conversationId: id,
      newestMessageId: await newest(seeder.url, reader, id),
    });
    return {
      writer,
      reader,
      home: await target('home', home),
      small: await target('10', small),
      large: await target(String(LONG), large),
    };
  } finally {
    await seeder.stop();
  }
}

/**
 * Builds the front end as it ships. vite-node runs this script with NODE_ENV=development, which
 * the build would inherit: it would then bundle React's development build (about 680 kB instead
 * of 435, every commit checked and slower).
 */
function buildForProduction(): void {
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    ensureBuild();
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
}

async function main(): Promise<void> {
  const missing = chromiumMissingReason();
  if (missing !== null) throw new Error(missing);
  const startedAt = new Date().toISOString();
  const machine = watchMachine();
  log(`work directory ${WORK_DIR}`);
  buildForProduction();

  const dataDir = path.join(WORK_DIR, `data-${process.pid}`);
  mkdirSync(dataDir, { recursive: true });
  await runChatstream(['migrate'], { DATA_DIR: dataDir }, dataDir);
  const seeded = await seed(dataDir);

  const server = await ChatStreamServer.start({
    name: 'bench-ui',
    dataDir,
    env: {
      ...SERVER_ENV,
      SCRIPTED_CHUNKS: String(CHUNKS),
      SCRIPTED_CHUNK_DELAY_S: String(1 / RATE),
    },
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
  });
  const results: Results = {
    meta: {
      startedAt,
      chunks: CHUNKS,
      chunksPerSecond: RATE,
      streamRuns: STREAM_RUNS,
      opensPerConversation: OPENS,
      longConversationMessages: LONG,
      scrollPages: SCROLL_PAGES,
      chromium: browser.version(),
    },
    machine: machine(),
    stream: [],
    open: [],
    scroll: [],
  };
  try {
    const writerPage = await signedInPage(browser, server.url, seeded.writer.account);
    for (let run = 1; run <= STREAM_RUNS; run += 1) {
      const result = await streamOnce(writerPage, seeded.writer, CHUNKS, run);
      results.stream.push(result);
      log(
        `(u1) run ${run}: ${result.chunkRate.toFixed(0)} chunks/s, most commits in a frame ` +
          `${result.frames.maxCommitsPerFrame}, long tasks ${result.longTasks.count}; ` +
          describeMachine(result.machine),
      );
    }
    await writerPage.context().close();

    const readerPage = await signedInPage(browser, server.url, seeded.reader.account);
    results.open = await openConversations(
      browser,
      readerPage,
      seeded.home,
      seeded.small,
      seeded.large,
      OPENS,
    );
    log(`(u2) ${results.open.length} opens`);
    results.scroll = await scrollBack(
      readerPage,
      seeded.large.conversationId,
      seeded.large.newestMessageId,
      SCROLL_PAGES,
    );
    log(`(u3) ${results.scroll.length} pages`);
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  results.machine = machine();
  const list = rows(results);
  console.log(`\n${table(list)}\n`);
  console.log(`${results.machine.cpus} CPUs; over the run ${describeMachine(results.machine)}`);
  for (const file of writeResults(path.join(REPO_DIR, 'bench', 'results'), results, list)) {
    log(`wrote ${path.relative(REPO_DIR, file)}`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error('BENCHMARK BROKE:', error);
    process.exit(1);
  },
);
