import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import {
  DISCONNECT_TABLE,
  type DisconnectName,
  type Publication,
  SSE_EVENTS,
  type SseConnectedEvent,
  type StreamPosition,
  type SubscribeResult,
  formatCursor,
} from '../../contract/index.js';
import { RESPONDED } from '../http/adapter.js';
import { HubbubError } from '../errors.js';
import { SubscriptionAbortedError } from '../hub/hub.js';
import type { Subscriber } from '../hub/subscriber.js';
import { openRealtimeRequest } from './realtime-request.js';
import { StallWatch, Ticker } from './ticker.js';
import { TurnWrites } from './turn-writes.js';
import type { ConnectionHandle, Session } from '../session/session.js';
import type { Transport, TransportEnv } from './transport.js';

/**
 * A publication event, encoded once for every stream. The `id:` line is the connection's cursor,
 * which differs per connection when it has several channels: a one-channel stream writes `single`
 * (id line and body in one buffer, one write), a stream of several writes its own id line, then
 * `body`. Bytes, so the socket does not encode them again per subscriber and its writableLength
 * counts bytes (see StallWatch).
 */
interface SseFrame {
  single: Buffer;
  body: Buffer;
}

/** No `id:` line: a heartbeat must not move the cursor the client sends back as Last-Event-ID. */
const PING = `event: ${SSE_EVENTS.ping}\ndata: {}\n\n`;

function encode(pub: Publication): SseFrame {
  const id = `id: ${pub.epoch}:${pub.offset}\n`;
  const single = Buffer.from(`${id}event: ${SSE_EVENTS.publication}\ndata: ${JSON.stringify(pub)}\n\n`);
  // The body is the single event without its id line: a view of the same bytes, not a copy.
  return { single, body: single.subarray(Buffer.byteLength(id)) };
}

// The stream is its session's handle itself (no closures per stream: tsx names a closure stored in a
// property, which makes it a slow-property function of ~300 B), and a one-channel stream, the usual
// one, needs no channel index.
class SseConnection implements Subscriber<SseFrame>, ConnectionHandle {
  readonly positions: Array<StreamPosition | undefined>;
  /** channel → its entry in `positions`; only for a stream of several channels. */
  private readonly index: Map<string, number> | undefined;
  /** No more writes: the stream ended (disconnect) or the client went away. */
  closed = false;
  readonly watch: StallWatch;

  constructor(
    readonly res: ServerResponse,
    readonly codec: Subscriber<SseFrame>['codec'],
    readonly identity: Session,
    readonly channels: string[],
    since: ReadonlyArray<StreamPosition | undefined>,
    private readonly env: TransportEnv,
    socket: Socket,
    private readonly onEnded: (c: SseConnection) => void,
    private readonly turn: TurnWrites,
  ) {
    this.watch = new StallWatch(socket);
    // Until a channel's subscribed event, its cursor entry keeps the requested position: a stream
    // that drops in between must not turn that channel's Last-Event-ID entry into "from now".
    this.positions = channels.map((_, i) => since[i]);
    if (channels.length > 1) this.index = new Map(channels.map((c, i) => [c, i]));
  }

  onSubscribed(result: SubscribeResult): void {
    this.positions[this.index?.get(result.channel) ?? 0] = result;
    this.write(`id: ${formatCursor(this.positions)}\nevent: ${SSE_EVENTS.subscribed}\ndata: ${JSON.stringify(result)}\n\n`);
  }

  onPublication(frame: SseFrame, pub: Publication): void {
    // The publication is its own position: no allocation per subscriber on the fan-out path.
    this.positions[this.index?.get(pub.channel) ?? 0] = pub;
    if (this.closed) return;
    if (this.res.writableLength > this.env.config.maxQueueBytes) return this.disconnect('slow_consumer');
    // Held for the turn (TurnWrites): the id line and the shared body of a stream of several channels
    // leave in the same write as everything else of this turn.
    this.turn.hold(this.res.socket);
    if (this.channels.length === 1) {
      this.res.write(frame.single);
      return;
    }
    this.res.write(`id: ${formatCursor(this.positions)}\n`);
    this.res.write(frame.body);
  }

  onUnrecoverable(): void {
    this.disconnect('insufficient_state');
  }

  // The stream's channels are fixed by its request (its cursor lists them): server-side
  // subscribe/unsubscribe reach WebSocket connections only.
  async subscribe(): Promise<boolean> {
    return false;
  }

  unsubscribe(): boolean {
    return false;
  }

  write(text: string): void {
    if (!this.closed) this.res.write(text);
  }

  disconnect(reason: DisconnectName): void {
    if (this.closed) return;
    this.identity.disconnecting(reason);
    this.env.metrics.disconnected('sse', reason);
    const row = DISCONNECT_TABLE[reason];
    this.write(`event: ${SSE_EVENTS.disconnect}\ndata: ${JSON.stringify({ code: row.code, name: reason, reason: row.reason, reconnect: row.reconnect })}\n\n`);
    this.res.end();
    this.onEnded(this);
  }
}

/** Server-Sent Events: several channels per stream; every event id is a cursor, so Last-Event-ID resumes. */
export function createSseTransport(env: TransportEnv): Transport<'sse'> {
  const { hub, config } = env;
  const codec = hub.codec('sse', encode, (frame) => frame.single.length);
  const turn = new TurnWrites();
  const connections = new Set<SseConnection>();

  // Ends the subscriptions once; the stream stays in `connections` until its response closes.
  const release = (conn: SseConnection) => {
    if (conn.closed) return;
    conn.closed = true;
    for (const channel of conn.channels) hub.unsubscribe(channel, conn);
  };

  // An event rather than a comment: EventSource hides comments, and the client's stale timer
  // needs to see something every interval. It is also the write that keeps idle proxies open.
  // A stream whose socket took nothing for a whole interval is not read: it is ended, and if it
  // still takes nothing by the next tick (the disconnect event cannot leave), its socket is reset.
  const heartbeat = new Ticker(config.pingInterval * 1000, () => {
    for (const c of connections) {
      const stalled = c.watch.stalled();
      if (c.closed) {
        if (stalled) c.watch.drop();
      } else if (stalled) c.disconnect('slow_consumer');
      else c.write(PING);
    }
  });

  return {
    name: 'sse',
    route: 'sse',
    capabilities: { bidirectional: false, streaming: true, upgrade: false, sendsCorsHeaders: true },
    async handle({ query, headers }, ctx) {
      if (env.isClosing()) throw new HubbubError('unavailable', 'the server is shutting down');
      // EventSource sends Last-Event-ID on its own reconnects: it is newer than the URL's cursor.
      const cursor = headers['last-event-id'] || query.cursor;
      // Every refusal (token, origin, limits, permissions, malformed request) happens here, as a
      // plain HTTP error: once the stream has started, a refusal could only look like a reconnect.
      const { session, channels, since } = await openRealtimeRequest(env, ctx, { transport: 'sse', connection: true }, query, cursor);
      ctx.respond = false;
      const res = ctx.res;
      // The CORS headers go out with the head, not set on the response first: a response with headers
      // set keeps a copy of every header it writes for as long as the stream lasts.
      res.writeHead(200, {
        ...ctx.corsHeaders,
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      const connected: SseConnectedEvent = {
        client: session.client,
        node: env.node.id,
        version: env.node.version,
        pingInterval: config.pingInterval * 1000,
        user: session.user,
      };
      if (session.expiresAt !== undefined) connected.expires = session.expiresAt;
      // No `id:` on connected either; it also flushes the headers before the first subscribe.
      res.write(`retry: 1000\n\nevent: ${SSE_EVENTS.connected}\ndata: ${JSON.stringify(connected)}\n\n`);
      const conn = new SseConnection(res, codec, session, channels, since, env, ctx.req.socket, release, turn);
      connections.add(conn);
      heartbeat.ensureRunning();
      // on(), not once(): a response closes once, and once() would wrap the listener per stream.
      res.on('close', () => {
        connections.delete(conn);
        release(conn);
        session.close();
      });
      session.attach(conn);
      for (let i = 0; i < channels.length && !conn.closed; i++) {
        try {
          await hub.subscribe(channels[i]!, conn, since[i]);
        } catch (err) {
          if (err instanceof SubscriptionAbortedError) break;
          env.log(`sse subscribe to ${channels[i]} failed`, err);
          // The stream already started: tell the client to come back and recover.
          conn.disconnect('insufficient_state');
        }
      }
      return RESPONDED;
    },
    async shutdown(reason) {
      heartbeat.stop();
      for (const c of [...connections]) c.disconnect(reason);
    },
    get connections() {
      return connections.size;
    },
  };
}
