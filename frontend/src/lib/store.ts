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
