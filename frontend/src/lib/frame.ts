// One place that schedules work for the next animation frame (with a timer where there is none).
// Everything asked for the same frame runs in one callback, in the order it was asked for:
// the store updates it makes (the streamed text, the sidebar's list) are then rendered by React
// in one commit, where separate callbacks would each get a commit of their own (React renders
// a store's update in the microtask after the callback that made it).

interface Entry {
  readonly callback: () => void;
}

let due = new Set<Entry>();
let cancelRequest: (() => void) | null = null;

function runFrame(): void {
  cancelRequest = null;
  const entries = due;
  due = new Set();
  let failure: { error: unknown } | null = null;
  for (const entry of entries) {
    try {
      entry.callback();
    } catch (error) {
      // One failing caller does not cost the others their frame.
      failure ??= { error };
    }
  }
  if (failure !== null) throw failure.error;
}

function requestFrame(): () => void {
  if (typeof requestAnimationFrame === 'function') {
    const id = requestAnimationFrame(runFrame);
    return () => {
      cancelAnimationFrame(id);
    };
  }
  const id = setTimeout(runFrame, 16);
  return () => {
    clearTimeout(id);
  };
}

/** Runs `callback` at the next animation frame; the function returned cancels it. */
export function scheduleFrame(callback: () => void): () => void {
  const entry: Entry = { callback };
  due.add(entry);
  cancelRequest ??= requestFrame();
  return () => {
    if (!due.delete(entry) || due.size > 0) return;
    cancelRequest?.();
    cancelRequest = null;
  };
}

/**
 * Drops everything scheduled and the frame asked for: a test's clean slate, since a session
 * left mid-answer still has callbacks waiting for a frame that test's stub will never run.
 */
export function discardFrames(): void {
  due = new Set();
  cancelRequest?.();
  cancelRequest = null;
}
