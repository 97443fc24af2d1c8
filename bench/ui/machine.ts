// The machine's state during a measurement, as bench/machine.py reads it: the load average, and
// the share of every core's time that was busy and that the hypervisor stole (/proc/stat).

import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

const FIELDS = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
type Ticks = Record<(typeof FIELDS)[number], number>;

export interface MachineState {
  cpus: number;
  loadavgBefore: number;
  loadavgAfter: number;
  /** Fractions of all cores' time (0.5 on 2 cores = one core's worth); null without /proc. */
  busy: number | null;
  steal: number | null;
}

function cpuTicks(): Ticks | null {
  try {
    const first = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/) ?? [];
    if (first[0] !== 'cpu') return null;
    const ticks = {} as Ticks;
    FIELDS.forEach((name, i) => (ticks[name] = Number(first[i + 1] ?? 0)));
    return ticks;
  } catch {
    return null;
  }
}

const total = (t: Ticks): number => FIELDS.reduce((sum, name) => sum + t[name], 0);
const round2 = (n: number): number => Math.round(n * 100) / 100;

/** Starts watching; the returned function ends the watch and gives the state over it. */
export function watchMachine(): () => MachineState {
  const before = cpuTicks();
  const loadavgBefore = round2(loadavg()[0] ?? 0);
  return () => {
    const after = cpuTicks();
    const state: MachineState = {
      cpus: cpus().length,
      loadavgBefore,
      loadavgAfter: round2(loadavg()[0] ?? 0),
      busy: null,
      steal: null,
    };
    if (before !== null && after !== null && total(after) > total(before)) {
      const span = total(after) - total(before);
      const delta = (...names: (keyof Ticks)[]) =>
        names.reduce((sum, name) => sum + after[name] - before[name], 0);
      state.busy = delta('user', 'nice', 'system', 'irq', 'softirq') / span;
      state.steal = delta('steal') / span;
    }
    return state;
  };
}

/** `load 1.20 -> 1.85, CPU busy 64%, steal 0.3%`, for the log lines and the markdown. */
export function describeMachine(s: MachineState): string {
  const pct = (v: number | null, digits: number) =>
    v === null ? '-' : `${(v * 100).toFixed(digits)}%`;
  return (
    `load ${s.loadavgBefore.toFixed(2)} -> ${s.loadavgAfter.toFixed(2)}, ` +
    `machine CPU busy ${pct(s.busy, 0)}, steal ${pct(s.steal, 1)}`
  );
}
