// Animation frames a test runs by hand.

import { vi } from 'vitest';

/**
 * requestAnimationFrame as a queue the test flushes by hand, without React: "one frame" is
 * exactly what the test says it is.
 */
export function manualFrames(): { flush: () => void; pending: () => number } {
  let queue = new Map<number, FrameRequestCallback>();
  let nextId = 1;
  vi.stubGlobal('requestAnimationFrame', (callback: FrameRequestCallback) => {
    const id = nextId++;
    queue.set(id, callback);
    return id;
  });
  vi.stubGlobal('cancelAnimationFrame', (id: number) => {
    queue.delete(id);
  });
  return {
    flush: () => {
      const current = queue;
      queue = new Map();
      for (const callback of current.values()) callback(performance.now());
    },
    pending: () => queue.size,
  };
}
