import type { StreamPosition } from '../../contract/position.js';
import { ABNORMAL_CLOSURE, DISCONNECT_TABLE } from '../../contract/disconnect.js';
import type { ErrorBody } from '../../contract/errors.js';
import { HubbubError, HubbubProtocolError, disconnectName, isErrorBody } from '../errors.js';
import type { ClientTransport, PublishCommand, TransportContext, TransportFactory, WebSocketLike } from '../types.js';
import { isPublication, isSubscribeResult, parseJson, webSocketUrl } from '../wire.js';

const MAX_ID = 2 ** 31 - 1;

type Position = { channel: string; epoch: string; offset: number };
type Waiter = { resolve(p: Position): void; reject(e: HubbubError): void };

/**
 * WebSocket at /ws: one socket, commands with ids echoed in replies. The server greets, the client
 * answers with `connect` (its token, if any) and counts as open only once that is accepted.
 * Browsers cannot see the server's protocol pings, so a half-open socket would go unnoticed: the
 * client sends a `ping` command every `pingInterval` and treats two missed answers as stale.
 */
class WebSocketTransport implements ClientTransport {
  readonly #ctx: TransportContext;
  readonly #ws: WebSocketLike | undefined;
  #opened = false;
  #closed = false;
  #nextId = 1;
  /** id of a subscribe command waiting for its reply → its channel, to route an error frame. */
  readonly #commandChannel = new Map<number, string>();
  /** Channels the server has (or will have, once it processes what we sent) a subscription for. */
  readonly #serverChannels = new Set<string>();
  /** Publishes waiting for `published`, and refreshes waiting for `refreshed`, by command id. */
  readonly #publishes = new Map<number, Waiter>();
  readonly #refreshes = new Set<number>();
  #connectId: number | undefined;
  /** The token the connect command carried, to tell whether one refreshed meanwhile must follow. */
  #connectToken: string | undefined;
  #connectTimer: unknown;
  #pingTimer: unknown;
  #unanswered = 0;

  constructor(ctx: TransportContext) {
    this.#ctx = ctx;
    const Ws = ctx.env.WebSocket!;
    try {
      this.#ws = new Ws(webSocketUrl(ctx.baseUrl, '/ws'));
    } catch (err) {
      // A bad URL or a blocked scheme throws synchronously; report it like a failed connection.
      queueMicrotask(() => this.#finish({ code: ABNORMAL_CLOSURE, reason: `cannot open WebSocket: ${String(err)}` }));
      return;
    }
    const ws = this.#ws;
    ws.onmessage = (ev: { data: unknown }) => this.#onMessage(ev.data);
    ws.onclose = (ev: { code: number; reason: string }) => this.#finish({ code: ev.code || ABNORMAL_CLOSURE, reason: ev.reason ?? '' });
    // An error is always followed by close, which carries the code.
    ws.onerror = () => undefined;
    this.#connectTimer = ctx.env.timers.setTimeout(() => this.#fail(ABNORMAL_CLOSURE, 'connect timeout'), ctx.connectTimeout);
  }

  subscribe(channel: string, since: StreamPosition | undefined, token?: string): void {
    // Before `connected`, the channel list is read from the context once the server accepts us.
    if (!this.#opened || this.#closed) return;
    if (this.#serverChannels.has(channel)) this.#send({ id: this.#id(), type: 'unsubscribe', channel });
    this.#sendSubscribe(channel, since, token);
  }

  refresh(token: string, channel?: string): void {
    // Not open yet: the connect reply checks the token. A channel not (yet) on the server gets the token with its subscribe.
    if (!this.#opened || this.#closed || (channel !== undefined && !this.#serverChannels.has(channel))) return;
    const id = this.#id();
    this.#refreshes.add(id);
    this.#send(channel === undefined ? { id, type: 'refresh', token } : { id, type: 'refresh', token, channel });
  }

  publish(command: PublishCommand): Promise<Position> {
    if (!this.#opened || this.#closed) return Promise.reject(notSent());
    return new Promise((resolve, reject) => {
      const id = this.#id();
      this.#publishes.set(id, { resolve, reject });
      this.#send({ id, type: 'publish', ...command });
    });
  }

  unsubscribe(channel: string): void {
    if (!this.#opened || this.#closed || !this.#serverChannels.delete(channel)) return;
    this.#send({ id: this.#id(), type: 'unsubscribe', channel });
  }

  close(): void {
    if (this.#closed) return;
    this.#stop();
    this.#ws?.close(DISCONNECT_TABLE.normal.code, 'client closed');
  }

  #sendSubscribe(channel: string, since: StreamPosition | undefined, token: string | undefined): void {
    this.#serverChannels.add(channel);
    const frame: Record<string, unknown> = { id: this.#id(channel), type: 'subscribe', channel };
    if (since) frame.since = { epoch: since.epoch, offset: since.offset };
    if (token !== undefined) frame.token = token;
    this.#send(frame);
  }

  #id(channel?: string): number {
    const id = this.#nextId;
    this.#nextId = id >= MAX_ID ? 1 : id + 1;
    if (channel !== undefined) this.#commandChannel.set(id, channel);
    return id;
  }

  #send(frame: Record<string, unknown>): void {
    this.#ws?.send(JSON.stringify(frame));
  }

  #onMessage(data: unknown): void {
    if (this.#closed) return;
    this.#unanswered = 0;
    const frame = parseJson(data) as Frame | undefined;
    const { handlers } = this.#ctx;
    const id = typeof frame?.id === 'number' ? frame.id : undefined;
    if (id !== undefined && frame?.type !== 'error') this.#commandChannel.delete(id);
    switch (frame?.type) {
      case 'published': {
        const waiter = id === undefined ? undefined : this.#publishes.get(id);
        if (!waiter || !isPosition(frame)) break;
        this.#publishes.delete(id!);
        return waiter.resolve({ channel: frame.channel, epoch: frame.epoch, offset: frame.offset });
      }
      case 'refreshed':
        if (id !== undefined) this.#refreshes.delete(id);
        return;
      case 'publication':
        if (isPublication(frame)) return handlers.onPublication(withoutFrameFields(frame));
        break;
      case 'subscribed':
        if (!isSubscribeResult(frame)) break;
        // Without an id: the server subscribed on its own (the token's channels, the server API).
        if (id === undefined) this.#serverChannels.add(frame.channel);
        return handlers.onSubscribed(withoutFrameFields(frame), id === undefined);
      case 'unsubscribed':
        if (id === undefined && typeof frame.channel === 'string' && this.#serverChannels.delete(frame.channel)) handlers.onUnsubscribed(frame.channel);
        return;
      case 'pong':
        return;
      case 'connected':
        return id === undefined ? this.#onGreeting() : this.#onConnected(frame, id);
      case 'error':
        if (isErrorBody(frame)) return this.#onErrorFrame(frame, id);
        break;
      default:
        // An unknown frame type from a newer server is ignored, so old clients keep working.
        if (typeof frame?.type === 'string') return;
    }
    handlers.onError(new HubbubProtocolError('websocket', String(data)));
  }

  #onErrorFrame(body: ErrorBody, id: number | undefined): void {
    const error = new HubbubError(body.code, body.message, { status: 0, retryable: body.retryable, issues: body.issues });
    // The connection was refused (token, rate): the server was reached, so the code says what to do next.
    if (id !== undefined && id === this.#connectId) return this.#refused(error);
    const waiter = id === undefined ? undefined : this.#publishes.get(id);
    if (waiter) {
      this.#publishes.delete(id!);
      return waiter.reject(error);
    }
    if (id !== undefined && this.#refreshes.delete(id)) return this.#ctx.handlers.onError(error);
    const channel = id === undefined ? undefined : this.#commandChannel.get(id);
    if (id !== undefined) this.#commandChannel.delete(id);
    // Our own unsubscribe cut that subscribe short; the channel may already have a newer subscribe.
    if (body.code === 'cancelled') return;
    // The server did not subscribe, so a later unsubscribe must not be sent.
    if (channel !== undefined) this.#serverChannels.delete(channel);
    this.#ctx.handlers.onError(error, channel);
  }

  /**
   * The first command is always `connect`, with or without a token: the server closes a silent socket (4005).
   * It carries the known positions, so the channels the server subscribes on its own (the token's)
   * recover too; the server reads only those, and at most 128: the server-side ones, listed last.
   */
  #onGreeting(): void {
    if (this.#connectId !== undefined) return;
    const token = this.#ctx.token();
    const frame: Record<string, unknown> = { id: (this.#connectId = this.#id()), type: 'connect' };
    if (token !== undefined) frame.token = token;
    const known = this.#ctx.channels().filter((w) => w.since);
    if (known.length > 0) frame.positions = Object.fromEntries(known.slice(-128).map((w) => [w.channel, w.since]));
    this.#connectToken = token;
    this.#send(frame);
  }

  #refused(error: HubbubError): void {
    const code = (DISCONNECT_TABLE as Record<string, { code: number }>)[error.code]?.code ?? ABNORMAL_CLOSURE;
    this.#ws?.close(DISCONNECT_TABLE.normal.code, error.code);
    this.#finish({ code, reason: error.message, error });
  }

  #onConnected(f: Frame, id: number): void {
    if (this.#opened || id !== this.#connectId) return;
    this.#opened = true;
    this.#ctx.env.timers.clearTimeout(this.#connectTimer);
    const interval = typeof f.pingInterval === 'number' ? f.pingInterval : 0;
    if (interval > 0) this.#schedulePing(interval);
    // Refreshed while the connect was on its way: the server has the older token.
    const token = this.#ctx.token();
    if (token !== undefined && token !== this.#connectToken) this.refresh(token);
    // The channels the server subscribes on its own, from the positions of `connect`: not ours to subscribe.
    const serverChannels = Array.isArray(f.channels) ? f.channels.filter((c): c is string => typeof c === 'string') : [];
    for (const c of serverChannels) this.#serverChannels.add(c);
    // Subscribe before announcing the open: a subscribe the app makes in its 'connected' listener
    // then finds the channel list already sent and is not sent twice.
    for (const w of this.#ctx.channels()) if (!w.server && !serverChannels.includes(w.channel)) this.#sendSubscribe(w.channel, w.since, w.token);
    const info: { client?: string; node?: string; serverChannels: string[] } = { serverChannels };
    if (typeof f.client === 'string') info.client = f.client;
    if (typeof f.node === 'string') info.node = f.node;
    this.#ctx.handlers.onOpen(info);
  }

  #schedulePing(interval: number): void {
    this.#pingTimer = this.#ctx.env.timers.setTimeout(() => {
      if (this.#closed) return;
      // Any frame resets the count, so a busy connection never needs the ping answered.
      if (++this.#unanswered > 2) return this.#fail(DISCONNECT_TABLE.stale.code, 'no pong received in time');
      this.#send({ id: this.#id(), type: 'ping' });
      this.#schedulePing(interval);
    }, interval);
  }

  /** Gives up on the socket without waiting for a close handshake a dead peer would never answer. */
  #fail(code: number, reason: string): void {
    if (this.#closed) return;
    this.#ws?.close(code === ABNORMAL_CLOSURE ? DISCONNECT_TABLE.normal.code : code, reason);
    this.#finish({ code, reason });
  }

  #finish(info: { code: number; reason: string; error?: HubbubError }): void {
    if (this.#closed) return;
    this.#stop();
    const name = disconnectName(info.code);
    this.#ctx.handlers.onClose({ ...info, opened: this.#opened, ...(name ? { name } : {}) });
  }

  #stop(): void {
    this.#closed = true;
    // Whether the server published is unknown: retry with the same idempotencyKey to be safe.
    for (const waiter of this.#publishes.values()) waiter.reject(notSent());
    this.#publishes.clear();
    this.#ctx.env.timers.clearTimeout(this.#connectTimer);
    this.#ctx.env.timers.clearTimeout(this.#pingTimer);
    if (this.#ws) {
      this.#ws.onmessage = null;
      this.#ws.onclose = null;
      // Keep an error listener: `ws` throws an unhandled 'error' event when none is attached.
      this.#ws.onerror = () => undefined;
    }
  }
}

type Frame = { type?: unknown; id?: unknown } & Record<string, unknown>;

const isPosition = (f: Frame): f is Frame & Position => typeof f.channel === 'string' && typeof f.epoch === 'string' && typeof f.offset === 'number';

const notSent = () =>
  new HubbubError('unavailable', 'the connection closed before the publish was acknowledged', { status: 0, retryable: true });

/** Drops the frame-only fields (`type`, `id`) so the app sees the contract's Publication/SubscribeResult. */
function withoutFrameFields<T extends object>(frame: T & { type?: unknown; id?: unknown }): T {
  const { type: _type, id: _id, ...rest } = frame;
  return rest as T;
}

export const websocketTransport: TransportFactory = {
  name: 'websocket',
  capabilities: { commands: true, streaming: true },
  isAvailable: (env) => env.WebSocket !== undefined,
  open: (ctx) => new WebSocketTransport(ctx),
};
