import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServerInferRequest } from '@ts-rest/core';
import type { Api, DisconnectName } from '../../contract/index.js';
import type { Config } from '../config.js';
import type { Exchange, RouteHandler } from '../http/adapter.js';
import type { Hub } from '../hub/hub.js';
import type { Metrics } from '../metrics/metrics.js';
import type { SampledLog } from '../log-sampler.js';
import type { PublishService } from '../publish/service.js';
import type { Sessions } from '../session/sessions.js';

export interface TransportCapabilities {
  /** The client can send commands on the same connection. */
  bidirectional: boolean;
  /** The server pushes publications as they happen, without a new request per batch. */
  streaming: boolean;
  /** The connection request must go to the WebSocket upgrade handler. */
  upgrade: boolean;
  /**
   * The head it writes itself carries Exchange.corsHeaders: the direct route then leaves those headers
   * to it rather than setting them beforehand (one pass over the headers instead of two).
   */
  sendsCorsHeaders?: boolean;
}

export interface TransportEnv {
  hub: Hub;
  config: Config;
  /** Identity, permissions and limits: every transport opens its connections and requests here. */
  sessions: Sessions;
  /** The one publish service (client publishes over WebSocket). */
  publishing: PublishService;
  node: { id: string; version: string };
  /** True once the node is shutting down: refuse new connections with `unavailable`. */
  isClosing(): boolean;
  /** Counted, sampled warnings for what clients get wrong (malformed frames, oversized messages). */
  clientErrors: SampledLog;
  /** Counts what the server closes and what the command limit refuses (never called per delivery). */
  metrics: Pick<Metrics, 'disconnected' | 'rateLimited'>;
  log(message: string, err?: unknown): void;
}

export type TransportRoute = 'websocket' | 'sse' | 'poll';

/**
 * One client-connection wire. Transports know the hub, never the broker; the app mounts
 * `handle` on the contract route named by `route`, and `upgrade` on its path when present.
 */
export interface Transport<R extends TransportRoute = TransportRoute> {
  readonly name: string;
  readonly route: R;
  readonly capabilities: TransportCapabilities;
  /** Koa's route calls it with its context; a transport that never upgrades is also served by the direct route (direct-route.ts). */
  handle(req: ServerInferRequest<Api[R]>, exchange: Exchange): ReturnType<RouteHandler<Api[R]>>;
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Close every connection with this disconnect code; resolves when they are gone. */
  shutdown(reason: DisconnectName): Promise<void>;
  readonly connections: number;
}

export type TransportFactory = (env: TransportEnv) => Transport;
