// A small HTTP proxy in front of a server that the test controls: it forwards everything
// unbuffered and, on demand, cuts the open answer streams as a flaky network would, or acts as
// a server gone away (every connection dropped) until it is told the server is back.

import { createServer, request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage, Server, ServerResponse } from 'node:http';

/** An answer's stream (a send's, once posted, or one followed) or a Continue's. */
const STREAM_PATH = /^\/api\/v1\/chat\/messages\/[^/?]+\/(stream|continue)(\?|$)/;

export interface SeenStreamRequest {
  path: string;
  lastEventId: string | null;
  status: number | null;
}

interface OpenStream {
  browser: IncomingMessage;
  upstream: ClientRequest;
}

export class CuttableProxy {
  readonly streamRequests: SeenStreamRequest[] = [];
  /** Requests dropped while the server was "gone". */
  dropped = 0;
  private readonly open = new Set<OpenStream>();
  private down = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private upstream: URL | null = null;

  static async start(target: string): Promise<CuttableProxy> {
    let proxy: CuttableProxy | null = null;
    const server = createServer((req, res) => {
      if (proxy?.upstream) proxy.forward(proxy.upstream, req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy = new CuttableProxy(server, address.port);
    proxy.upstream = new URL(target);
    return proxy;
  }

  /** From now on, forwards to `target` (a server started again on another port). */
  retarget(target: string): void {
    this.upstream = new URL(target);
  }

  private forward(target: URL, req: IncomingMessage, res: ServerResponse): void {
    if (this.down) {
      this.dropped += 1;
      req.socket.destroy(); // as a server that is not there: no status, the connection just fails
      return;
    }
    const isStream = STREAM_PATH.test(req.url ?? '');
    const seen: SeenStreamRequest | null = isStream
      ? {
          path: req.url ?? '',
          lastEventId: (req.headers['last-event-id'] as string | undefined) ?? null,
          status: null,
        }
      : null;
    if (seen !== null) this.streamRequests.push(seen);
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (upstreamRes) => {
        if (seen !== null) seen.status = upstreamRes.statusCode ?? null;
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        res.flushHeaders();
        upstreamRes.pipe(res);
        // The server died mid-response: the browser's connection breaks too, as it would
        // without a proxy in between.
        upstreamRes.on('aborted', () => res.destroy());
        upstreamRes.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(upstream);
    if (isStream) {
      const entry: OpenStream = { browser: req, upstream };
      this.open.add(entry);
      res.on('close', () => this.open.delete(entry));
    }
  }

  /** Drops every open answer stream mid-flight (both sides). Returns how many were cut. */
  cutStreams(): number {
    const cut = this.open.size;
    for (const { browser, upstream } of this.open) {
      browser.socket.destroy();
      upstream.destroy();
    }
    this.open.clear();
    return cut;
  }

  /** The server goes away: open streams are cut and every request fails until serverBack(). */
  serverGone(): number {
    this.down = true;
    return this.cutStreams();
  }

  serverBack(): void {
    this.down = false;
  }

  get openStreams(): number {
    return this.open.size;
  }

  async stop(): Promise<void> {
    this.cutStreams();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
