// An in-memory stand-in for BroadcastChannel: instances with the same name are the tabs of one
// browser. A message reaches every other open instance of its name, never its sender, a task
// later (as in a browser).

type Listener = ((event: MessageEvent) => void) | null;

export class FakeBroadcastChannel {
  static instances: FakeBroadcastChannel[] = [];

  onmessage: Listener = null;
  closed = false;
  readonly posted: unknown[] = [];

  constructor(readonly name: string) {
    FakeBroadcastChannel.instances.push(this);
  }

  static reset(): void {
    FakeBroadcastChannel.instances = [];
  }

  /** Everything posted on channel `name`, by any instance. */
  static postedOn(name: string): unknown[] {
    return FakeBroadcastChannel.instances.filter((c) => c.name === name).flatMap((c) => c.posted);
  }

  postMessage(data: unknown): void {
    if (this.closed) throw new Error('InvalidStateError: the channel is closed');
    this.posted.push(data);
    const copy: unknown = structuredClone(data);
    for (const other of FakeBroadcastChannel.instances) {
      if (other === this || other.name !== this.name || other.closed) continue;
      setTimeout(() => {
        if (!other.closed) other.onmessage?.(new MessageEvent('message', { data: copy }));
      }, 0);
    }
  }

  close(): void {
    this.closed = true;
  }
}
