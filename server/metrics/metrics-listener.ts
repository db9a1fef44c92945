import { type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorBody } from '../../contract/index.js';
import type { Metrics } from './metrics.js';

// /metrics without a key on a port of its own (--metrics-port), for a scraper that reaches the node
// on a private interface or network the clients never see. Nothing else is served there.

export class MetricsListener {
  private server: Server | undefined;

  constructor(private readonly metrics: Metrics) {}

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async listen(port: number, host: string): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') return answer(res, 404, JSON.stringify(errorBody('not_found', 'only GET /metrics is served on this port')));
      if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, JSON.stringify(errorBody('method_not_allowed')));
      this.metrics.exposition().then(
        (text) => answer(res, 200, text, this.metrics.contentType),
        () => answer(res, 500, JSON.stringify(errorBody('internal'))),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function answer(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
