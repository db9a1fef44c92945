import { type IncomingMessage, type RequestListener, type Server, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import type { Duplex } from 'node:stream';
import { errorBody } from '../../contract/index.js';
import { answerClientError } from './client-error.js';
import { trackConnections } from './connections.js';
import type { TlsFiles } from './tls.js';
import { abortHandshake } from './upgrade-response.js';

export { abortHandshake };

// The HTTP server: plain requests go to Koa, WebSocket upgrades are routed by path to their
// transport, and every refused upgrade leaves through one abortHandshake with a real HTTP status
// and the contract's error body — before any WebSocket exists. With TLS files it is an HTTPS server
// (WSS upgrades arrive on it the same way).

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export class FrontDoor {
  private server: Server | undefined;
  private connections: ReturnType<typeof trackConnections> | undefined;
  private readonly upgrades = new Map<string, UpgradeHandler>();
  private boundPort = 0;

  constructor(
    private readonly requests: RequestListener,
    private tls?: TlsFiles,
  ) {}

  get secure(): boolean {
    return this.tls !== undefined;
  }

  /** New certificate and key for connections from now on (open ones keep theirs); throws if they do not fit. */
  setTls(files: TlsFiles): void {
    if (!this.tls) throw new Error('this server was started without TLS');
    // https.Server extends tls.Server; node:http's Server type does not say so.
    (this.server as unknown as TlsServer | undefined)?.setSecureContext(files);
    this.tls = files;
  }

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
    // An https.Server is an http.Server over TLS sockets: every event used here is the same.
    const s = this.tls ? (createHttpsServer(this.tls, this.requests) as unknown as Server) : createServer(this.requests);
    // Requests of a TLS server arrive on the TLS socket, announced by 'secureConnection'.
    this.connections = trackConnections(s, this.tls ? 'secureConnection' : 'connection');
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
