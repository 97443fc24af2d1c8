// The figures against the targets: a printed table, bench/results/ui-<time>.json with
// every run, and ui-<time>.md with the table and the machine's state.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { MachineState } from './machine';
import { describeMachine } from './machine';
import type { OpenRun } from './open';
import type { ScrollPage } from './scrollback';
import { median, ratio, round } from './stats';
import type { StreamRun } from './stream';

export const TARGETS = {
  maxCommitsPerFrame: 1,
  longTaskMs: 50,
  openRatio: 1.5,
  /** Sub-pixel layout rounding aside, the message at the top must not move. */
  jumpPx: 1,
};

export interface Row {
  metric: string;
  value: string;
  target: string;
  met: 'yes' | 'NO' | '-';
}

export interface Results {
  meta: Record<string, unknown>;
  machine: MachineState;
  stream: StreamRun[];
  open: OpenRun[];
  scroll: ScrollPage[];
}

const fmt = (n: number, digits = 1) => round(n, digits).toLocaleString('en-GB');
const met = (ok: boolean): Row['met'] => (ok ? 'yes' : 'NO');

export function rows(results: Results): Row[] {
  const out: Row[] = [];
  const { stream, open, scroll } = results;
  if (stream.length > 0) {
    const maxCommits = Math.max(...stream.map((r) => r.frames.maxCommitsPerFrame));
    const longCount = stream.reduce((n, r) => n + r.longTasks.count, 0);
    const longMax = Math.max(...stream.map((r) => r.longTasks.maxMs));
    const each = (f: (r: StreamRun) => string) => stream.map(f).join(' / ');
    out.push(
      {
        metric: '(u1) chunks/s reaching the browser',
        value: each((r) => fmt(r.chunkRate, 0)),
        target: `${results.meta.chunksPerSecond as number}`,
        met: '-',
      },
      {
        metric: '(u1) streaming: most React commits in one frame',
        value: each((r) => String(r.frames.maxCommitsPerFrame)),
        target: `<= ${TARGETS.maxCommitsPerFrame}`,
        met: met(maxCommits <= TARGETS.maxCommitsPerFrame),
      },
      {
        metric: '(u1) streaming: frames with more than one commit (ms after the first chunk)',
        value: each(
          (r) =>
            `${r.frames.framesOverOne} of ${r.frames.frames}` +
            (r.frames.framesOverOne > 0 ? ` (${r.frames.framesOverOneAtMs.join(', ')})` : ''),
        ),
        target: '',
        met: '-',
      },
      {
        metric: '(u1) streaming: commits / frames',
        value: each((r) => `${r.frames.commits} / ${r.frames.frames}`),
        target: '',
        met: '-',
      },
      {
        metric: '(u1) streaming: main-thread tasks over 50 ms (longest, ms)',
        value: each((r) => `${r.longTasks.count} (${fmt(r.longTasks.maxMs, 0)})`),
        target: '0',
        met: met(longCount === 0 && longMax <= TARGETS.longTaskMs),
      },
      {
        metric: '(u1) send to end: most commits in a frame; long tasks (longest, ms)',
        value: each(
          (r) =>
            `${r.wholeFrames.maxCommitsPerFrame}; ${r.wholeLongTasks.count} (${fmt(r.wholeLongTasks.maxMs, 0)})`,
        ),
        target: '',
        met: '-',
      },
      {
        metric: '(u1) renderer script / task time (ms)',
        value: each((r) => `${fmt(r.mainThread.scriptMs, 0)} / ${fmt(r.mainThread.taskMs, 0)}`),
        target: '',
        met: '-',
      },
      {
        metric: '(u1) text shown = stored answer',
        value: each((r) => (r.storedEqualsChunks && r.shownEqualsReopened ? 'equal' : 'DIFFERENT')),
        target: 'equal',
        met: met(stream.every((r) => r.storedEqualsChunks && r.shownEqualsReopened)),
      },
    );
  }
  if (open.length > 0) {
    const of = (label: string, f: (r: OpenRun) => number) =>
      median(open.filter((r) => r.label === label).map(f));
    const largeLabel = String(results.meta.longConversationMessages);
    const small = of('10', (r) => r.mainThread.scriptMs);
    const large = of(largeLabel, (r) => r.mainThread.scriptMs);
    const scriptRatio = ratio(large, small);
    out.push(
      {
        metric: '(u2) open: script ms, 10 / 1,000 messages (median)',
        value: `${fmt(small)} / ${fmt(large)}`,
        target: '',
        met: '-',
      },
      {
        metric: '(u2) open: script time, 1,000 ÷ 10',
        value: scriptRatio === null ? '-' : fmt(scriptRatio, 2),
        target: `<= ${TARGETS.openRatio}`,
        met: scriptRatio === null ? '-' : met(scriptRatio <= TARGETS.openRatio),
      },
      {
        metric: '(u2) open: renderer CPU ms, 10 / 1,000 (median); 1,000 ÷ 10',
        value: (() => {
          const cpuSmall = of('10', (r) => r.rendererCpuMs);
          const cpuLarge = of(largeLabel, (r) => r.rendererCpuMs);
          const cpuRatio = ratio(cpuLarge, cpuSmall);
          return `${fmt(cpuSmall, 0)} / ${fmt(cpuLarge, 0)}; ${cpuRatio === null ? '-' : fmt(cpuRatio, 2)}`;
        })(),
        target: '',
        met: '-',
      },
      {
        metric: '(u2) open: task ms, 10 / 1,000 (median)',
        value: `${fmt(of('10', (r) => r.mainThread.taskMs))} / ${fmt(of(largeLabel, (r) => r.mainThread.taskMs))}`,
        target: '',
        met: '-',
      },
      {
        metric: '(u2) open: click to painted, ms, 10 / 1,000 (median)',
        value: `${fmt(
          of('10', (r) => r.wallMs),
          0,
        )} / ${fmt(
          of(largeLabel, (r) => r.wallMs),
          0,
        )}`,
        target: '',
        met: '-',
      },
      {
        metric: '(u2) open: messages rendered, 10 / 1,000',
        value: `${of('10', (r) => r.messagesShown)} / ${of(largeLabel, (r) => r.messagesShown)}`,
        target: '',
        met: '-',
      },
    );
  }
  if (scroll.length > 0) {
    const worst = Math.max(...scroll.map((p) => Math.max(Math.abs(p.jumpPx), p.maxFrameJumpPx)));
    out.push(
      {
        metric: '(u3) scroll up: pages loaded (messages shown after each)',
        value: `${scroll.length} (${scroll.map((p) => p.messagesAfter).join(', ')})`,
        target: '',
        met: '-',
      },
      {
        metric: '(u3) scroll up: largest move of the top message, px',
        value: fmt(worst, 1),
        target: `<= ${TARGETS.jumpPx}`,
        met: met(worst <= TARGETS.jumpPx),
      },
      {
        metric: '(u3) scroll up: script ms per page (median)',
        value: fmt(median(scroll.map((p) => p.mainThread.scriptMs))),
        target: '',
        met: '-',
      },
    );
  }
  return out;
}

export function table(list: Row[]): string {
  const widths = [
    Math.max(...list.map((r) => r.metric.length), 6),
    Math.max(...list.map((r) => r.value.length), 5),
    Math.max(...list.map((r) => r.target.length), 6),
  ];
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < widths.length ? c.padEnd(widths[i] ?? 0) : c)).join('  ');
  return [
    line(['metric', 'value', 'target', 'met?']),
    ...list.map((r) => line([r.metric, r.value, r.target, r.met])),
  ].join('\n');
}

function markdown(results: Results, list: Row[]): string {
  const lines = [
    `# Browser benchmark, ${String(results.meta.startedAt)}`,
    '',
    '| metric | value | target | met? |',
    '|---|---|---|---|',
    ...list.map((r) => `| ${r.metric} | ${r.value} | ${r.target} | ${r.met} |`),
    '',
    `Machine: ${results.machine.cpus} CPUs, over the run ${describeMachine(results.machine)}.`,
    '',
    'Per streaming run: ' +
      results.stream.map((r, i) => `run ${i + 1}: ${describeMachine(r.machine)}`).join('; ') +
      '.',
    '',
  ];
  return lines.join('\n');
}

/** Writes ui-<stamp>.json and ui-<stamp>.md; returns their paths. */
export function writeResults(dir: string, results: Results, list: Row[]): string[] {
  mkdirSync(dir, { recursive: true });
  const stamp = String(results.meta.startedAt).replace(/[:.]/g, '-');
  const json = path.join(dir, `ui-${stamp}.json`);
  const md = path.join(dir, `ui-${stamp}.md`);
  writeFileSync(json, `${JSON.stringify({ ...results, rows: list }, null, 2)}\n`);
  writeFileSync(md, markdown(results, list));
  return [json, md];
}
