import { ABNORMAL_CLOSURE, DISCONNECT_TABLE } from '../../contract/disconnect.js';
import { SSE_EVENTS } from '../../contract/sse-events.js';
import { HubbubError, HubbubProtocolError } from '../errors.js';
import type { ClientTransport, EventSourceLike, SseMessageEvent, TransportContext, TransportFactory } from '../types.js';
import { cursorOf, isPublication, isSubscribeResult, parseJson, realtimeUrl, retryAfterMs, tokensOf } from '../wire.js';

/**
 * The server's default ping interval, assumed until a `connected` event names the real one. The
 * server sends `connected` first thing, so this only bounds a stream that never gets that far
 * (a response a proxy holds, a restart request that hangs); without it such a stream would hang.
 */
const DEFAULT_PING_INTERVAL = 25_000;
/** Slack over two missed pings for timer drift and a busy server or network. */
const STALE_MARGIN = 5_000;

/** ms of silence after which a stream is taken for dead: two missed pings and the margin. */
export const sseStaleTimeout = (pingInterval: number): number => 2 * pingInterval + STALE_MARGIN;

/**
 * Server-Sent Events at /sse: one stream for the whole channel list. A change of the channel set
 * restarts the stream with a cursor built from the client's positions.
 *
 * A half-open connection or a dead proxy would leave the stream silent forever: the server sends a
 * `ping` event every `pingInterval` (announced by `connected`), and a stream that delivers no event
 * at all for two intervals and a margin is closed as `stale`, like a WebSocket whose pings go
 * unanswered, so the core reconnects and recovers.
 *
 * On an error the stream is closed and the core reconnects, instead of letting EventSource retry on
 * its own: one backoff policy with jitter for every transport, where EventSource's fixed retry
 * interval would bring every client of a restarted node back in the same instant. Nothing is lost,
 * since the cursor the core sends equals the Last-Event-ID the browser would have sent.
 */
class SseTransport implements ClientTransport {
  readonly #ctx: TransportContext;
  #es: EventSourceLike | undefined;
  #opened = false;
  #closed = false;
  #restartQueued = false;
  #connectTimer: unknown;
  #staleTimer: unknown;
  #pingInterval = DEFAULT_PING_INTERVAL;

  constructor(ctx: TransportContext) {
    this.#ctx = ctx;
    this.#start();
  }

  // Commands do not exist on SSE: both restart the stream with the new list, batched per tick.
  subscribe(): void {
    this.#queueRestart();
  }

  unsubscribe(): void {
    this.#queueRestart();
  }

  close(): void {
    this.#closed = true;
    this.#stopStream();
  }

  #queueRestart(): void {
    if (this.#restartQueued || this.#closed) return;
    this.#restartQueued = true;
    queueMicrotask(() => {
      this.#restartQueued = false;
      if (!this.#closed) this.#start();
    });
  }

  #start(): void {
    this.#stopStream();
    const wanted = this.#ctx.channels();
    // No channel, no stream: the transport idles until the first subscribe.
    if (wanted.length === 0) return;
    const { env, baseUrl, connectTimeout } = this.#ctx;
    // The connection token as a header where the EventSource can send one, else in the URL (the
    // server never logs it). A refreshed token is used from the next stream on.
    const token = this.#ctx.token();
    const withHeaders = env.openEventSourceWithHeaders;
    const url = realtimeUrl(baseUrl, '/sse', {
      channels: wanted.map((w) => w.channel).join(','),
      cursor: cursorOf(wanted),
      tokens: tokensOf(wanted),
      token: withHeaders ? undefined : token,
    });
    const es = withHeaders ? withHeaders(url, token === undefined ? {} : { authorization: `Bearer ${token}` }) : new env.EventSource!(url);
    this.#es = es;
    if (!this.#opened) this.#connectTimer = env.timers.setTimeout(() => this.#finish({ code: ABNORMAL_CLOSURE, reason: 'connect timeout' }), connectTimeout);
    this.#armStaleTimer();
    // A browser EventSource cannot read the error body; the Node entry's passes it along (node-event-source.ts).
    es.onerror = (ev: { status?: number; body?: string; retryAfter?: string }) => {
      if (es !== this.#es) return;
      const retryAfter = retryAfterMs(ev?.retryAfter, env.now());
      const error = ev?.status ? HubbubError.fromResponse(ev.status, parseJson(ev.body) ?? ev.body, { retryAfter }) : undefined;
      this.#finish(error ? { code: ABNORMAL_CLOSURE, reason: error.message, error } : { code: ABNORMAL_CLOSURE, reason: 'SSE stream failed' });
    };
    const on = (type: string, fn: (data: unknown, raw: string) => void) =>
      es.addEventListener(type, (ev: SseMessageEvent) => {
        if (es !== this.#es) return;
        // Any event proves the stream alive, so a busy stream never depends on the pings.
        this.#armStaleTimer();
        fn(parseJson(ev.data), ev.data);
      });
    on(SSE_EVENTS.connected, (d) => this.#onConnected(d));
    on(SSE_EVENTS.ping, () => undefined);
    // A channel the app did not ask for is the server's own (the token's).
    const asked = new Set(wanted.filter((w) => !w.server).map((w) => w.channel));
    on(SSE_EVENTS.subscribed, (d, raw) => (isSubscribeResult(d) ? this.#ctx.handlers.onSubscribed(d, !asked.has(d.channel)) : this.#malformed(raw)));
    on(SSE_EVENTS.publication, (d, raw) => (isPublication(d) ? this.#ctx.handlers.onPublication(d) : this.#malformed(raw)));
    on(SSE_EVENTS.disconnect, (d) => {
      const v = (typeof d === 'object' && d !== null ? d : {}) as { code?: unknown; reason?: unknown; name?: unknown };
      const info = { code: typeof v.code === 'number' ? v.code : ABNORMAL_CLOSURE, reason: typeof v.reason === 'string' ? v.reason : 'disconnected' };
      this.#finish(typeof v.name === 'string' ? { ...info, name: v.name } : info);
    });
  }

  /** The stream's first event; the connection counts as open from here, as on WebSocket. */
  #onConnected(d: unknown): void {
    const v = (typeof d === 'object' && d !== null ? d : {}) as { client?: unknown; node?: unknown; pingInterval?: unknown };
    if (typeof v.pingInterval === 'number' && v.pingInterval > 0) {
      this.#pingInterval = v.pingInterval;
      this.#armStaleTimer();
    }
    this.#ctx.env.timers.clearTimeout(this.#connectTimer);
    // A restarted stream (new channel list) is the same connection for the app: announced once.
    if (this.#opened) return;
    this.#opened = true;
    const info: { client?: string; node?: string } = {};
    if (typeof v.client === 'string') info.client = v.client;
    if (typeof v.node === 'string') info.node = v.node;
    this.#ctx.handlers.onOpen(info);
  }

  #armStaleTimer(): void {
    const { timers } = this.#ctx.env;
    timers.clearTimeout(this.#staleTimer);
    this.#staleTimer = timers.setTimeout(() => {
      // Closing the EventSource drops the dead socket; the core reconnects and recovers from its positions.
      this.#finish({ code: DISCONNECT_TABLE.stale.code, reason: 'no event received in time', name: 'stale' });
    }, sseStaleTimeout(this.#pingInterval));
  }

  #malformed(raw: string): void {
    this.#ctx.handlers.onError(new HubbubProtocolError('sse', raw));
  }

  #finish(info: { code: number; reason: string; error?: HubbubError; name?: string }): void {
    if (this.#closed) return;
    this.close();
    this.#ctx.handlers.onClose({ ...info, opened: this.#opened });
  }

  #stopStream(): void {
    this.#ctx.env.timers.clearTimeout(this.#connectTimer);
    this.#ctx.env.timers.clearTimeout(this.#staleTimer);
    const es = this.#es;
    this.#es = undefined;
    // Closed before the server ends the stream, so EventSource does not reconnect on its own.
    es?.close();
  }
}

export const sseTransport: TransportFactory = {
  name: 'sse',
  capabilities: { commands: false, streaming: true },
  isAvailable: (env) => env.EventSource !== undefined,
  open: (ctx) => new SseTransport(ctx),
};
