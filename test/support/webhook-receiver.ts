import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebhookEvent, WebhookDelivery } from '../../contract/index.js';

// A real HTTP receiver for webhook tests, in the test process (node:http on port 0): it records
// every request and answers with `respond` (default 200 {}). close() takes it down, connections
// included, and open() brings it back on the same port, as an app backend restarting would.

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type Responder = (req: ReceivedRequest) => { status: number; body?: unknown } | Promise<{ status: number; body?: unknown }>;

export class WebhookReceiver implements AsyncDisposable {
  readonly requests: ReceivedRequest[] = [];
  respond: Responder = () => ({ status: 200, body: {} });
  private server: Server;
  private port = 0;

  private constructor() {
    this.server = this.create();
  }

  static async start(): Promise<WebhookReceiver> {
    const r = new WebhookReceiver();
    await r.open();
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Every delivery to `path` (the asynchronous events), parsed with the contract's schema. */
  deliveries(path = '/events'): WebhookDelivery[] {
    return this.requests.filter((r) => r.path === path).map((r) => WebhookDelivery.parse(JSON.parse(r.body)));
  }

  /** The events of every delivery, in arrival order; a retried delivery's events appear once per arrival. */
  events(path = '/events'): WebhookEvent[] {
    return this.deliveries(path).flatMap((d) => d.events);
  }

  async open(): Promise<void> {
    if (this.server.listening) return;
    this.server = this.create();
    await new Promise<void>((resolve, reject) => this.server.once('error', reject).listen(this.port, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private create(): Server {
    return createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        this.requests.push(received);
        void Promise.resolve(this.respond(received)).then(({ status, body }) => {
          if (res.destroyed) return;
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(body === undefined ? '' : JSON.stringify(body));
        });
      });
    });
  }
}
