// One place that schedules work for the next animation frame (with a timer where there is none).

export function scheduleFrame(callback: () => void): () => void {
  if (typeof requestAnimationFrame === 'function') {
    const id = requestAnimationFrame(() => {
      callback();
    });
    return () => {
      cancelAnimationFrame(id);
    };
  }
  const id = setTimeout(callback, 16);
  return () => {
    clearTimeout(id);
  };
}
