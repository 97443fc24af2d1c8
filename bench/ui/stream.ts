// Scenario (u1): a long answer written fast. The scripted model writes SCRIPTED_CHUNKS chunks at
// SCRIPTED_CHUNK_DELAY_S apart (3,000 at 500/s); the page sends a question from the composer and
// the answer streams in. Measured from the send to the answer's end: React commits per animation
// frame, main-thread tasks over 50 ms, the renderer's script and task time; the pace the chunks
// really arrived at (DevTools' EventSource events); then that the text on screen is the stored
// answer: the stored text is the chunks joined, and the streamed message shows exactly what
// the same message shows when the conversation is opened afresh from the server.

import type { Page } from 'playwright-core';

import type { Message } from '../../frontend/src/api/types';

import type { MachineState } from './machine';
import { watchMachine } from './machine';
import {
  lastAnswerText,
  mainThreadTime,
  startRecording,
  stopRecording,
  timeBetween,
  twoFrames,
} from './page';
import type { MainThreadTime } from './page';
import { between, commitsPerFrame } from './probes';
import type { FrameStats } from './probes';
import { storedMessages } from './seed';
import type { Reader } from './seed';

export interface LongTasks {
  count: number;
  maxMs: number;
  totalMs: number;
}

export interface StreamRun {
  chunksReceived: number;
  /** Chunks per second between the first and the last chunk event, as the browser got them. */
  chunkRate: number;
  streamSeconds: number;
  /** From the first chunk's arrival to a frame after the last one's: the answer streaming. */
  frames: FrameStats;
  longTasks: LongTasks;
  /** From the send to the answer's end: also the new conversation's start (its URL, the list). */
  wholeFrames: FrameStats;
  wholeLongTasks: LongTasks;
  mainThread: MainThreadTime;
  storedEqualsChunks: boolean;
  shownEqualsReopened: boolean;
  shownChars: number;
  machine: MachineState;
}

interface ChunkEvent {
  /** Seconds, DevTools' monotonic clock. */
  at: number;
  content: string;
}

function longTaskStats(tasks: { duration: number }[]): LongTasks {
  return {
    count: tasks.length,
    maxMs: Math.max(0, ...tasks.map((t) => t.duration)),
    totalMs: tasks.reduce((sum, t) => sum + t.duration, 0),
  };
}

/** A frame at 60 Hz: the last chunk's text is committed within the frame after it arrives. */
const FRAME_MS = 1000 / 60;

export async function streamOnce(
  page: Page,
  reader: Reader,
  expectedChunks: number,
  run: number,
): Promise<StreamRun> {
  await page.goto('/chat');
  const composer = page.getByRole('textbox', { name: 'Message' });
  await composer.waitFor();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await cdp.send('Network.enable');
  const chunks: ChunkEvent[] = [];
  // DevTools' network clock against the wall clock, to place the chunks on the page's clock.
  let wallMinusMonotonicMs: number | null = null;
  cdp.on('Network.requestWillBeSent', (event) => {
    wallMinusMonotonicMs ??= event.wallTime * 1000 - event.timestamp * 1000;
  });
  cdp.on('Network.eventSourceMessageReceived', (event) => {
    // Every event is an unnamed SSE message with its type in the JSON (docs/api.md).
    const data = JSON.parse(event.data) as { type?: string; content?: string };
    if (data.type === 'chunk') chunks.push({ at: event.timestamp, content: data.content ?? '' });
  });

  await composer.fill(`Benchmark run ${run}: a long answer, please.`);
  const machine = watchMachine();
  const before = await mainThreadTime(cdp);
  await startRecording(page);
  await composer.press('Enter');
  const answer = page.locator('[data-testid="message"][data-role="assistant"]').last();
  await answer.and(page.locator('[data-status="complete"]')).waitFor({ timeout: 120_000 });
  await page.getByTestId('typing-indicator').waitFor({ state: 'detached' });
  await twoFrames(page);
  const recording = await stopRecording(page);
  const after = await mainThreadTime(cdp);
  const machineState = machine();
  await cdp.detach();

  const timeOrigin = await page.evaluate(() => performance.timeOrigin);
  const shown = await lastAnswerText(page);
  const conversationId = new URL(page.url()).pathname.split('/').pop() ?? '';
  const baseUrl = new URL(page.url()).origin;
  const stored = (await storedMessages(baseUrl, reader, conversationId)).findLast(
    (m: Message) => m.role === 'assistant',
  );
  await page.reload();
  await answer.and(page.locator('[data-status="complete"]')).waitFor();
  const reopened = await lastAnswerText(page);

  const first = chunks[0]?.at ?? 0;
  const last = chunks.at(-1)?.at ?? 0;
  const streamSeconds = last - first;
  if (chunks.length !== expectedChunks) {
    throw new Error(`the browser got ${chunks.length} chunk events, ${expectedChunks} expected`);
  }
  if (wallMinusMonotonicMs === null) throw new Error('DevTools reported no request');
  const toPage = (monotonicS: number) =>
    monotonicS * 1000 + (wallMinusMonotonicMs ?? 0) - timeOrigin;
  const streaming = between(recording, toPage(first), toPage(last) + FRAME_MS);
  return {
    chunksReceived: chunks.length,
    chunkRate: streamSeconds > 0 ? (chunks.length - 1) / streamSeconds : 0,
    streamSeconds,
    frames: commitsPerFrame(streaming),
    longTasks: longTaskStats(streaming.longTasks),
    wholeFrames: commitsPerFrame(recording),
    wholeLongTasks: longTaskStats(recording.longTasks),
    mainThread: timeBetween(before, after),
    storedEqualsChunks: stored?.content === chunks.map((c) => c.content).join(''),
    shownEqualsReopened: shown === reopened && shown.length > 0,
    shownChars: shown.length,
    machine: machineState,
  };
}
