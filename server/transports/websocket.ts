import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  ClientFrame,
  DISCONNECT_TABLE,
  type DisconnectName,
  type ErrorCode,
  type Publication,
  type SubscribeResult,
  errorBody,
} from '../../contract/index.js';
import { HubbubError, toHubbubError, validationError } from '../errors.js';
import { SubscriptionAbortedError } from '../hub/hub.js';
import type { ClientIdentity, Subscriber } from '../hub/subscriber.js';
import { Ticker } from './ticker.js';
import type { Transport, TransportEnv } from './transport.js';

const encodePublication = (pub: Publication): Buffer => Buffer.from(JSON.stringify({ type: 'publication', ...pub }));

class WsConnection implements Subscriber<Buffer> {
  /** channel → id of the subscribe command still waiting for its reply, or 0 once subscribed. */
  readonly channels = new Map<string, number>();
  alive = true;
  closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly codec: Subscriber<Buffer>['codec'],
    readonly identity: ClientIdentity,
    private readonly env: TransportEnv,
  ) {}

  onSubscribed(result: SubscribeResult): void {
    const id = this.channels.get(result.channel);
    if (!id) return;
    this.channels.set(result.channel, 0);
    this.send(JSON.stringify({ id, type: 'subscribed', ...result }));
  }

  onPublication(frame: Buffer): void {
    this.send(frame);
  }

  onUnrecoverable(): void {
    this.close('insufficient_state');
  }

  send(data: string | Buffer): void {
    if (this.closed) return;
    // A client that does not read fills the socket buffer: drop it rather than grow memory.
    if (this.ws.bufferedAmount > this.env.config.maxQueueBytes) {
      this.close('slow_consumer');
      return;
    }
    this.ws.send(data, { binary: false });
  }

  error(code: ErrorCode, id?: number, message?: string, issues?: HubbubError['issues']): void {
    this.send(JSON.stringify({ type: 'error', ...(id ? { id } : {}), ...errorBody(code, message, issues) }));
  }

  close(reason: DisconnectName): void {
    if (this.closed) return;
    this.closed = true;
    const row = DISCONNECT_TABLE[reason];
    this.ws.close(row.code, row.reason);
  }
}

/** WebSocket: JSON text frames, commands with ids, server pings; close codes from DISCONNECT_TABLE. */
export function createWebSocketTransport(env: TransportEnv): Transport<'websocket'> {
  const { hub, config } = env;
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxMessageBytes, clientTracking: false });
  const codec = hub.codec('websocket', encodePublication);
  const connections = new Set<WsConnection>();

  // One timer for all connections: a connection that missed a whole interval without a pong is stale.
  const pinger = new Ticker(config.pingInterval * 1000, () => {
    for (const c of connections) {
      if (!c.alive) c.close('stale');
      else {
        c.alive = false;
        c.ws.ping();
      }
    }
  });

  function onConnection(ws: WebSocket): void {
    const conn = new WsConnection(ws, codec, { client: env.newClientId(), user: null, transport: 'websocket' }, env);
    connections.add(conn);
    pinger.ensureRunning();
    ws.on('pong', () => (conn.alive = true));
    ws.on('message', (data, isBinary) => onMessage(conn, data, isBinary));
    ws.on('error', (err) => env.log('websocket error', err));
    ws.on('close', () => {
      conn.closed = true;
      connections.delete(conn);
      for (const channel of conn.channels.keys()) hub.unsubscribe(channel, conn);
      conn.channels.clear();
    });
    conn.send(
      JSON.stringify({
        type: 'connected',
        client: conn.identity.client,
        node: env.node.id,
        version: env.node.version,
        pingInterval: config.pingInterval * 1000,
      }),
    );
  }

  function onMessage(conn: WsConnection, data: RawData, isBinary: boolean): void {
    conn.alive = true;
    if (isBinary) return conn.error('invalid_frame', undefined, 'binary frames are not accepted: send JSON text');
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      return conn.error('invalid_frame', undefined, 'the frame is not valid JSON');
    }
    const parsed = ClientFrame.safeParse(json);
    if (!parsed.success) {
      const id = typeof (json as { id?: unknown })?.id === 'number' ? (json as { id: number }).id : undefined;
      const err = validationError(parsed.error.issues, 'frame', 'invalid_frame');
      return conn.error(err.code, id, undefined, err.issues);
    }
    const cmd = parsed.data;
    switch (cmd.type) {
      case 'ping':
        return conn.send(JSON.stringify({ id: cmd.id, type: 'pong' }));
      case 'subscribe': {
        if (conn.channels.has(cmd.channel)) return conn.error('already_subscribed', cmd.id);
        if (conn.channels.size >= config.maxChannels) {
          return conn.error('too_many_channels', cmd.id, `a connection may subscribe to ${config.maxChannels} channels`);
        }
        conn.channels.set(cmd.channel, cmd.id);
        hub.subscribe(cmd.channel, conn, cmd.since).catch((err: unknown) => {
          if (err instanceof SubscriptionAbortedError || conn.closed) return;
          conn.channels.delete(cmd.channel);
          const e = toHubbubError(err);
          if (e.code === 'internal') env.log(`subscribe to ${cmd.channel} failed`, err);
          conn.error(e.code, cmd.id);
        });
        return;
      }
      case 'unsubscribe': {
        if (!conn.channels.has(cmd.channel)) return conn.error('not_subscribed', cmd.id);
        conn.channels.delete(cmd.channel);
        hub.unsubscribe(cmd.channel, conn);
        return conn.send(JSON.stringify({ id: cmd.id, type: 'unsubscribed', channel: cmd.channel }));
      }
    }
  }

  return {
    name: 'websocket',
    route: 'websocket',
    capabilities: { bidirectional: true, streaming: true, upgrade: true },
    handle: async () => {
      throw new HubbubError('upgrade_required');
    },
    upgrade(req, socket, head) {
      if (env.isClosing()) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, onConnection);
    },
    async shutdown(reason) {
      pinger.stop();
      const closing = [...connections].map(
        (c) =>
          new Promise<void>((resolve) => {
            c.ws.once('close', () => resolve());
            c.close(reason);
            // A peer that never answers the close handshake must not hold the shutdown.
            setTimeout(() => {
              c.ws.terminate();
              resolve();
            }, 1000).unref();
          }),
      );
      await Promise.all(closing);
    },
    get connections() {
      return connections.size;
    },
  };
}
