// A value that changes over time and tells its listeners, in the shape React's
// useSyncExternalStore reads (subscribe + getSnapshot), with no React in it.

export class Store<T> {
  private state: T;
  private readonly listeners = new Set<() => void>();

  constructor(initial: T) {
    this.state = initial;
  }

  /** Bound, so it can be handed to useSyncExternalStore as it is. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /** The same object until the next change (useSyncExternalStore compares by identity). */
  readonly getSnapshot = (): T => this.state;

  /** Replaces the state with a patched copy and tells every listener once. */
  update(patch: Partial<T>): void {
    this.state = { ...this.state, ...patch };
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * A getSnapshot for part of a store: the same object for as long as the fields `keys` of
 * `read()` keep their values (by identity), so a component reading it with
 * useSyncExternalStore renders again only when one of them changes.
 */
export function selectFields<T extends object, K extends keyof T>(
  read: () => T,
  keys: readonly K[],
): () => Pick<T, K> {
  let last: Pick<T, K> | null = null;
  return () => {
    const state = read();
    const previous = last;
    if (previous !== null && keys.every((key) => Object.is(previous[key], state[key]))) {
      return previous;
    }
    const picked = {} as Pick<T, K>;
    for (const key of keys) picked[key] = state[key];
    last = picked;
    return picked;
  };
}
