import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ClientFrame, CommandId, ERROR_TABLE, type Publication, errorBody } from '../../contract/index.js';
import { HubbubError, toHubbubError, validationError } from '../errors.js';
import { abortHandshake } from '../http/upgrade-response.js';
import type { Session } from '../session/session.js';
import { Ticker } from './ticker.js';
import type { Transport, TransportEnv } from './transport.js';
import { TurnWrites } from './turn-writes.js';
import { WsCommands } from './ws-commands.js';
import { WsConnection } from './ws-connection.js';
import { handshakeProblem } from './ws-handshake.js';

/** Commands refused in a row by the rate limit before the connection is closed (4006). */
const MAX_REFUSALS = 50;

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
  const codec = hub.codec('websocket', encodePublication, (frame) => frame.length);
  const turn = new TurnWrites();
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

  const commands = new WsCommands(env);

  function onConnection(ws: WebSocket, socket: Socket, session: Session): void {
    const conn = new WsConnection(ws, socket, codec, session, config.maxQueueBytes, commands, turn, env.metrics);
    connections.add(conn);
    pinger.ensureRunning();
    session.attach(conn);
    // A socket authenticated by its upgrade (header, cookie, query token) may just listen to its token's
    // channels; only an anonymous one must say something before the timeout.
    if (session.user === null && session.identity.channels.length === 0) {
      conn.connectTimer = setTimeout(() => conn.close('connect_timeout'), config.connectTimeout * 1000);
      conn.connectTimer.unref();
    }
    ws.on('pong', () => (conn.alive = true));
    ws.on('message', (data, isBinary) => onMessage(conn, data, isBinary));
    // ws reports what the peer got wrong (oversized or non-UTF-8 frames) and closes with 1009/1007 itself.
    ws.on('error', (err: Error & { code?: string }) => env.clientErrors.warn(`websocket:${err.code ?? 'error'}`, 'websocket error', err));
    // The code and reason are the client's close frame (or 1006 without one); a close the server began is logged with its own reason.
    ws.on('close', (code, reason) => {
      conn.closed = true;
      clearTimeout(conn.connectTimer);
      connections.delete(conn);
      for (const channel of conn.channels.keys()) hub.unsubscribe(channel, conn);
      conn.channels.clear();
      session.close({ code, reason: reason.toString() });
    });
    const greeting: Record<string, unknown> = {
      type: 'connected',
      client: session.client,
      node: env.node.id,
      version: env.node.version,
      pingInterval: config.pingInterval * 1000,
      user: session.user,
    };
    if (session.expiresAt !== undefined) greeting['expires'] = session.expiresAt;
    conn.send(JSON.stringify(greeting));
    // A token sent with the upgrade (header, cookie, query) may list channels: join them now.
    for (const channel of session.identity.channels) commands.serverSubscribe(conn, channel);
  }

  /** Every command gets exactly one reply (or the connection's close code, if it closes first). */
  function onMessage(conn: WsConnection, data: RawData, isBinary: boolean): void {
    conn.alive = true;
    if (conn.connectTimer) {
      clearTimeout(conn.connectTimer);
      // A cleared timer still holds its callback and the connection: let both go.
      conn.connectTimer = undefined;
    }
    if (conn.closed) return;
    if (isBinary) return frameError(conn, 'invalid_frame', undefined, 'binary frames are not accepted: send JSON text');
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      return frameError(conn, 'invalid_frame', undefined, 'the frame is not valid JSON');
    }
    if (!conn.session.takeCommand()) {
      env.metrics.rateLimited('commands');
      if (++conn.refusals > MAX_REFUSALS) return conn.close('rate_limited');
      return conn.error('rate_limited', readableId(json), `at most ${config.limitCommands} commands per second`);
    }
    conn.refusals = 0;
    const parsed = ClientFrame.safeParse(json);
    if (!parsed.success) {
      const err = validationError(parsed.error.issues, 'frame', 'invalid_frame');
      return frameError(conn, err.code, readableId(json), undefined, err.issues);
    }
    const cmd = parsed.data;
    const queued = conn.enqueue(
      () => commands.run(conn, cmd),
      (err) => env.log(`websocket ${cmd.type} failed outside its reply`, err),
    );
    if (!queued) conn.close('rate_limited');
  }

  /** A malformed frame: answered, counted, and logged only as a sample (anyone can send them). */
  function frameError(conn: WsConnection, code: Parameters<WsConnection['error']>[0], id: number | undefined, message?: string, issues?: HubbubError['issues']): void {
    env.clientErrors.warn(`websocket:${code}`, `websocket frame refused: ${code}`);
    conn.error(code, id, message, issues);
  }

  function refuseUpgrade(socket: Duplex, err: unknown): void {
    const e = toHubbubError(err);
    if (e.code === 'internal') env.log('websocket upgrade failed', err);
    else env.clientErrors.warn(`upgrade:${e.code}`, `websocket upgrade refused: ${e.code}`);
    const headers: Record<string, string> = e.retryAfterMs === undefined ? {} : { 'Retry-After': String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))) };
    abortHandshake(socket, e.status, e.toBody(), headers);
  }

  /** Origin, limits and an upgrade-time token (header, cookie or `token` query parameter) are checked before any WebSocket exists. */
  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (env.isClosing()) return abortHandshake(socket, 503, errorBody('unavailable', 'the server is shutting down'));
    const refusal = handshakeProblem(req);
    if (refusal) {
      env.clientErrors.warn(`upgrade:${refusal.code}`, `websocket handshake refused: ${refusal.message}`);
      return abortHandshake(socket, ERROR_TABLE[refusal.code].status, errorBody(refusal.code, refusal.message), refusal.headers);
    }
    const queryToken = new URL(req.url ?? '/', 'http://upgrade').searchParams.get('token') ?? undefined;
    let session: Session;
    try {
      session = await env.sessions.open(req, { transport: 'websocket', queryToken, longLived: true, connection: true });
    } catch (err) {
      return refuseUpgrade(socket, err);
    }
    try {
      session.assertTokenChannels();
    } catch (err) {
      session.close();
      return refuseUpgrade(socket, err);
    }
    // ws answers a malformed handshake itself and never calls back: the session must not outlive the socket.
    const closeEarly = () => session.close();
    socket.on('close', closeEarly);
    if (socket.destroyed) return session.close();
    // Nothing that lives as long as the connection may hold `req` (its headers, raw headers and
    // stream state, about 1 KB): the callback reaches the socket through `socket`, not `req.socket`.
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.removeListener('close', closeEarly);
      // The upgraded socket is the net.Socket it is (a Duplex only by its type here).
      onConnection(ws, socket as Socket, session);
    });
  }

  return {
    name: 'websocket',
    route: 'websocket',
    capabilities: { bidirectional: true, streaming: true, upgrade: true },
    handle: async () => {
      throw new HubbubError('upgrade_required');
    },
    upgrade(req, socket, head) {
      upgrade(req, socket, head).catch((err: unknown) => refuseUpgrade(socket, err));
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
