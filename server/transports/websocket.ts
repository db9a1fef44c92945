import type { Socket } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ClientFrame, CommandId, ERROR_TABLE, type Publication, errorBody } from '../../contract/index.js';
import { abortHandshake } from '../http/upgrade-response.js';
import { handshakeProblem } from './ws-handshake.js';
import { HubbubError, toHubbubError, validationError } from '../errors.js';
import { SubscriptionAbortedError } from '../hub/hub.js';
import { Ticker } from './ticker.js';
import type { Transport, TransportEnv } from './transport.js';
import { WsConnection } from './ws-connection.js';

const encodePublication = (pub: Publication): Buffer => Buffer.from(JSON.stringify({ type: 'publication', ...pub }));

/** The id to echo in the error reply to a frame that failed validation: only one the contract allows. */
function readableId(json: unknown): number | undefined {
  const parsed = CommandId.safeParse(typeof json === 'object' && json !== null ? (json as { id?: unknown }).id : undefined);
  return parsed.success ? parsed.data : undefined;
}

/** WebSocket: JSON text frames, commands with ids, server pings; close codes from DISCONNECT_TABLE. */
export function createWebSocketTransport(env: TransportEnv): Transport<'websocket'> {
  const { hub, config } = env;
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxMessageBytes, clientTracking: false });
  const codec = hub.codec('websocket', encodePublication);
  const connections = new Set<WsConnection>();

  // One timer for all connections: a connection that missed a whole interval without a pong is
  // stale; one whose socket took nothing for a whole interval is not reading (slow_consumer), and
  // if it still takes nothing once closing, not even the close frame, its socket is reset.
  const pinger = new Ticker(config.pingInterval * 1000, () => {
    for (const c of connections) {
      const stalled = c.watch.stalled();
      if (c.closed) {
        if (stalled) c.watch.drop();
      } else if (stalled) c.close('slow_consumer');
      else if (!c.alive) c.close('stale');
      else {
        c.alive = false;
        c.ws.ping();
      }
    }
  });

  function onConnection(ws: WebSocket, socket: Socket): void {
    const identity = { client: env.newClientId(), user: null, transport: 'websocket' };
    const conn = new WsConnection(ws, socket, codec, identity, config.maxQueueBytes);
    connections.add(conn);
    pinger.ensureRunning();
    ws.on('pong', () => (conn.alive = true));
    ws.on('message', (data, isBinary) => onMessage(conn, data, isBinary));
    // ws reports what the peer got wrong (oversized or non-UTF-8 frames) and closes with 1009/1007 itself.
    ws.on('error', (err: Error & { code?: string }) => env.clientErrors.warn(`websocket:${err.code ?? 'error'}`, 'websocket error', err));
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

  /** Every command gets exactly one reply (or the connection's close code, if it closes first). */
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
      const err = validationError(parsed.error.issues, 'frame', 'invalid_frame');
      return conn.error(err.code, readableId(json), undefined, err.issues);
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
        const pending = { id: cmd.id, answered: false };
        conn.channels.set(cmd.channel, pending);
        hub.subscribe(cmd.channel, conn, cmd.since).catch((err: unknown) => {
          // Not ours any more: cancelled (and answered) by an unsubscribe, or the connection closed.
          if (conn.closed || conn.channels.get(cmd.channel) !== pending) return;
          conn.channels.delete(cmd.channel);
          const e = err instanceof SubscriptionAbortedError ? new HubbubError('internal', undefined, undefined, { cause: err }) : toHubbubError(err);
          if (e.code === 'internal') env.log(`subscribe to ${cmd.channel} failed`, err);
          // Failed after its reply (while catching up): the client must resubscribe from its position.
          if (pending.answered) conn.close('insufficient_state');
          else conn.error(e.code, cmd.id);
        });
        return;
      }
      case 'unsubscribe': {
        const pending = conn.channels.get(cmd.channel);
        if (!pending) return conn.error('not_subscribed', cmd.id);
        // A subscribe still waiting for its reply gets one now, before this command's.
        if (!pending.answered) conn.error('cancelled', pending.id);
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
      if (env.isClosing()) return abortHandshake(socket, 503, errorBody('unavailable', 'the server is shutting down'));
      const refusal = handshakeProblem(req);
      if (refusal) {
        env.clientErrors.warn(`upgrade:${refusal.code}`, `websocket handshake refused: ${refusal.message}`);
        return abortHandshake(socket, ERROR_TABLE[refusal.code].status, errorBody(refusal.code, refusal.message), refusal.headers);
      }
      // req.socket is the upgraded socket, typed as the net.Socket it is.
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req.socket));
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
