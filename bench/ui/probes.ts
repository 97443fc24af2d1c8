// What the page records for the benchmark, installed before the app's first script runs
// (page.addInitScript), so the production build is measured as it ships, with nothing added:
//
// - React commits: React calls a developer-tools hook on every commit when one is present
//   (production builds too); a minimal hook counts them. No Profiler, no special build.
// - Animation frames: a requestAnimationFrame loop, while recording, notes each frame's start,
//   so each commit falls into the frame that painted it.
// - Long tasks: PerformanceObserver 'longtask' (main-thread tasks over 50 ms).

export interface Recording {
  /** performance.now() of each React commit while recording. */
  commits: number[];
  /** performance.now() at the start of each animation frame while recording. */
  frames: number[];
  /** Main-thread tasks over 50 ms while recording: start and duration, ms. */
  longTasks: { start: number; duration: number }[];
}

export interface BenchProbe extends Recording {
  recording: boolean;
  start: () => void;
  stop: () => Recording;
}

declare global {
  interface Window {
    __benchProbe?: BenchProbe;
    /** scrollback.ts: where one message was at each frame while a page loaded. */
    __benchAnchor?: { stop: () => number[] };
    __REACT_DEVTOOLS_GLOBAL_HOOK__?: unknown;
  }
}

/** Runs in the page, before the app: serialised by Playwright, so it uses nothing outside it. */
export function installProbes(): void {
  const probe: BenchProbe = {
    recording: false,
    commits: [],
    frames: [],
    longTasks: [],
    start() {
      probe.commits = [];
      probe.frames = [];
      probe.longTasks = [];
      probe.recording = true;
      const onFrame = () => {
        if (!probe.recording) return;
        probe.frames.push(performance.now());
        requestAnimationFrame(onFrame);
      };
      requestAnimationFrame(onFrame);
    },
    stop() {
      probe.recording = false;
      return {
        commits: probe.commits,
        frames: probe.frames,
        longTasks: probe.longTasks,
      };
    },
  };
  window.__benchProbe = probe;
  // The smallest hook React accepts (supportsFiber, inject) and the calls it makes on a commit.
  window.__REACT_DEVTOOLS_GLOBAL_HOOK__ = {
    supportsFiber: true,
    renderers: new Map(),
    inject: () => 1,
    checkDCE: () => undefined,
    onScheduleFiberRoot: () => undefined,
    onCommitFiberRoot: () => {
      if (probe.recording) probe.commits.push(performance.now());
    },
    onPostCommitFiberRoot: () => undefined,
    onCommitFiberUnmount: () => undefined,
    setStrictMode: () => undefined,
  };
  new PerformanceObserver((list) => {
    if (!probe.recording) return;
    for (const entry of list.getEntries()) {
      probe.longTasks.push({
        start: entry.startTime,
        duration: entry.duration,
      });
    }
  }).observe({ type: 'longtask', buffered: false });
}

export interface FrameStats {
  frames: number;
  commits: number;
  /** The most commits that fell between two consecutive frame starts. */
  maxCommitsPerFrame: number;
  /** Frames that had more than one commit. */
  framesOverOne: number;
  /** Frames with at least one commit. */
  framesWithCommit: number;
  /** Where the frames with more than one commit began, ms after the recording's first frame. */
  framesOverOneAtMs: number[];
}

/** Puts each commit into the frame interval it happened in: [frame i, frame i+1). */
export function commitsPerFrame(recording: Recording): FrameStats {
  const { frames, commits } = recording;
  const perFrame = new Array<number>(Math.max(frames.length, 1)).fill(0);
  let frame = 0;
  for (const at of [...commits].sort((a, b) => a - b)) {
    while (frame + 1 < frames.length && (frames[frame + 1] ?? Infinity) <= at) frame += 1;
    perFrame[frame] = (perFrame[frame] ?? 0) + 1;
  }
  return {
    frames: frames.length,
    commits: commits.length,
    maxCommitsPerFrame: Math.max(0, ...perFrame),
    framesOverOne: perFrame.filter((n) => n > 1).length,
    framesWithCommit: perFrame.filter((n) => n > 0).length,
    framesOverOneAtMs: perFrame.flatMap((n, i) =>
      n > 1 ? [Math.round((frames[i] ?? 0) - (frames[0] ?? 0))] : [],
    ),
  };
}

/** The part of a recording between two page times (performance.now()), ms. */
export function between(recording: Recording, from: number, to: number): Recording {
  const inside = (at: number) => at >= from && at <= to;
  return {
    commits: recording.commits.filter(inside),
    frames: recording.frames.filter(inside),
    longTasks: recording.longTasks.filter((t) => t.start + t.duration >= from && t.start <= to),
  };
}
