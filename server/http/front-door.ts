import { type IncomingMessage, type RequestListener, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorBody } from '../../contract/index.js';
import { answerClientError } from './client-error.js';
import { trackConnections } from './connections.js';
import { abortHandshake } from './upgrade-response.js';

export { abortHandshake };

// The HTTP server: plain requests go to Koa, WebSocket upgrades are routed by path to their
// transport, and every refused upgrade leaves through one abortHandshake with a real HTTP status
// and the contract's error body — before any WebSocket exists.

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export class FrontDoor {
  private server: Server | undefined;
  private connections: ReturnType<typeof trackConnections> | undefined;
  private readonly upgrades = new Map<string, UpgradeHandler>();
  private boundPort = 0;

  constructor(private readonly requests: RequestListener) {}

  /** Upgrades on `path` go to `handler`; any other upgrade gets a 404. */
  route(path: string, handler: UpgradeHandler): void {
    this.upgrades.set(path, handler);
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Sockets the server holds (for the leak checks and, later, metrics). */
  get sockets(): number {
    return this.server ? (this.connections?.size ?? 0) : 0;
  }

  async listen(port: number, host: string): Promise<void> {
    if (this.server) throw new Error('already listening');
    const s = createServer(this.requests);
    this.connections = trackConnections(s);
    s.on('clientError', answerClientError);
    s.on('upgrade', (req, socket, head) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const handler = this.upgrades.get(path);
      if (!handler) return abortHandshake(socket, 404, errorBody('not_found', `no WebSocket endpoint at ${path}`));
      handler(req, socket, head);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => resolve());
    });
    this.server = s;
    this.boundPort = (s.address() as AddressInfo).port;
  }

  /**
   * Stops accepting, runs `drain` (transports close their clients with a code), closes idle
   * sockets at once and the rest when they finish, or after `timeoutMs`.
   */
  async stop(drain: () => Promise<void>, timeoutMs: number): Promise<void> {
    const s = this.server;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    await drain();
    this.connections?.closeUnused();
    const deadline = setTimeout(() => s.closeAllConnections(), timeoutMs);
    await closed;
    clearTimeout(deadline);
    this.server = undefined;
  }
}
