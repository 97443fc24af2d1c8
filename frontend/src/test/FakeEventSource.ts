// A scriptable stand-in for the browser's EventSource: tests open, feed, drop and refuse it.

import type { StreamEvent } from '../api/events';

type Handler = ((event: MessageEvent<string>) => void) | null;
type ErrorHandler = ((event: Event) => void) | null;

export class FakeEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static instances: FakeEventSource[] = [];

  readonly url: string;
  readonly withCredentials = false;
  readyState = FakeEventSource.CONNECTING;
  onmessage: Handler = null;
  onerror: ErrorHandler = null;
  onopen: ((event: Event) => void) | null = null;
  closeCalls = 0;

  constructor(url: string | URL) {
    this.url = String(url);
    FakeEventSource.instances.push(this);
  }

  static latest(): FakeEventSource {
    const es = FakeEventSource.instances.at(-1);
    if (es === undefined) throw new Error('no EventSource was opened');
    return es;
  }

  static reset(): void {
    FakeEventSource.instances = [];
  }

  get params(): URLSearchParams {
    return new URL(this.url, 'http://localhost').searchParams;
  }

  get pathname(): string {
    return new URL(this.url, 'http://localhost').pathname;
  }

  get closed(): boolean {
    return this.readyState === FakeEventSource.CLOSED;
  }

  close(): void {
    this.closeCalls += 1;
    this.readyState = FakeEventSource.CLOSED;
  }

  /** The connection opened (HTTP 200, text/event-stream). */
  open(): void {
    this.readyState = FakeEventSource.OPEN;
    this.onopen?.(new Event('open'));
  }

  /** Delivers one unnamed event, as the server frames them. */
  emit(event: StreamEvent | string, id = ''): void {
    if (this.readyState === FakeEventSource.CONNECTING) this.open();
    const data = typeof event === 'string' ? event : JSON.stringify(event);
    this.onmessage?.(new MessageEvent('message', { data, lastEventId: id }));
  }

  /** A transient drop: the browser is about to reconnect. */
  drop(): void {
    this.readyState = FakeEventSource.CONNECTING;
    this.onerror?.(new Event('error'));
  }

  /** The server refused the connection (a non-200 status): EventSource gives up. */
  refuse(): void {
    this.readyState = FakeEventSource.CLOSED;
    this.onerror?.(new Event('error'));
  }
}
